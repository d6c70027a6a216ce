#include "util/lifecycle.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <atomic>
#include <brook/error.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "util/sd_notify.hpp"

namespace brook {

namespace {
std::atomic<int> g_stop_write_fd{-1};
std::atomic<int> g_last_signal{0};
std::atomic<bool> g_stop_requested{false};
std::atomic<bool> g_instance_alive{false};

void on_signal(int sig) {
  const int saved = errno;
  g_last_signal.store(sig);
  g_stop_requested.store(true);
  const int fd = g_stop_write_fd.load();
  if (fd >= 0) {
    const char b = 1;
    [[maybe_unused]] ssize_t r = ::write(fd, &b, 1);
  }
  errno = saved;
}

void install(int sig, void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking poll returns EINTR and notices the stop at once
  ::sigaction(sig, &sa, nullptr);
}
}  // namespace

void notify_ready(std::string_view detail) {
  static std::once_flag once;
  std::call_once(once, [&] {
    sd_notify("READY=1\nSTATUS=ready " + std::string(detail));
    const char* v = std::getenv(kReadyFdEnv);
    if (v == nullptr || *v == '\0') return;
    char* end = nullptr;
    const long fd = std::strtol(v, &end, 10);
    if (end == v || *end != '\0' || fd < 0) return;
    std::string line = "READY ";
    line.append(detail);
    line.push_back('\n');
    [[maybe_unused]] ssize_t r = ::write(static_cast<int>(fd), line.data(), line.size());
    ::close(static_cast<int>(fd));
    ::unsetenv(kReadyFdEnv);  // children of this process must not write to it
  });
}

void notify_stopping(std::string_view why) {
  static std::once_flag once;
  std::call_once(once,
                 [&] { sd_notify("STOPPING=1\nSTATUS=stopping (" + std::string(why) + ")"); });
}

void report_stop(std::string_view detail) {
  static std::once_flag once;
  std::call_once(once, [&] {
    const char* v = std::getenv(kReportFdEnv);
    if (v == nullptr || *v == '\0') return;
    char* end = nullptr;
    const long fd = std::strtol(v, &end, 10);
    if (end == v || *end != '\0' || fd < 0) return;
    // Nobody reads the pipe before this process exits: never wait for room in it.
    ::fcntl(static_cast<int>(fd), F_SETFL, O_NONBLOCK);
    std::string line = "STOPPED ";
    line.append(detail);
    line.push_back('\n');
    [[maybe_unused]] ssize_t r = ::write(static_cast<int>(fd), line.data(), line.size());
    ::close(static_cast<int>(fd));
    ::unsetenv(kReportFdEnv);
  });
}

StopSignal::StopSignal(bool catch_signals) : catch_signals_(catch_signals) {
  if (catch_signals_ && g_instance_alive.exchange(true)) {
    throw Error("StopSignal: only one signal-catching instance may exist at a time");
  }
  auto fail = [&](const char* what) {
    const int err = errno;
    if (poll_fd_ >= 0 && poll_fd_ != read_fd_) ::close(poll_fd_);
    for (int fd : {read_fd_, write_fd_, signal_fd_}) {
      if (fd >= 0) ::close(fd);
    }
    if (catch_signals_) g_instance_alive = false;
    throw Error(std::string(what) + ": " + std::strerror(err));
  };
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) fail("pipe2");
  read_fd_ = fds[0];
  write_fd_ = fds[1];
  poll_fd_ = read_fd_;
  if (!catch_signals_) return;

  sigset_t stop_set;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGINT);
  sigaddset(&stop_set, SIGTERM);
  signal_fd_ = ::signalfd(-1, &stop_set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) fail("signalfd");
  const int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) fail("epoll_create1");
  poll_fd_ = epoll_fd;
  for (int fd : {read_fd_, signal_fd_}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(poll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) fail("epoll_ctl");
  }
  g_stop_requested = false;
  g_last_signal = 0;
  g_stop_write_fd = write_fd_;
  // Threads that do not block them (started before us) run the handler instead.
  install(SIGINT, on_signal);
  install(SIGTERM, on_signal);
  ::signal(SIGPIPE, SIG_IGN);
  ::pthread_sigmask(SIG_BLOCK, &stop_set, &old_mask_);
}

StopSignal::~StopSignal() {
  if (catch_signals_) {
    (void)consume();  // a signal still pending must not kill the process once unblocked
    install(SIGINT, SIG_DFL);
    install(SIGTERM, SIG_DFL);
    ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
    g_stop_write_fd = -1;
    g_instance_alive = false;
    ::close(signal_fd_);
    ::close(poll_fd_);
  }
  ::close(read_fd_);
  ::close(write_fd_);
}

int StopSignal::take_signals() const noexcept {
  if (signal_fd_ < 0) return 0;
  int taken = 0;
  signalfd_siginfo si;
  while (::read(signal_fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    g_last_signal.store(static_cast<int>(si.ssi_signo));
    g_stop_requested.store(true);
    ++taken;
  }
  return taken;
}

int StopSignal::consume() noexcept {
  int events = 0;
  char buf[64];
  for (;;) {
    const ssize_t n = ::read(read_fd_, buf, sizeof buf);
    if (n <= 0) break;
    events += static_cast<int>(n);
  }
  return events + take_signals();
}

bool StopSignal::requested() const noexcept {
  if (catch_signals_ && !g_stop_requested.load()) {
    // A signal waiting in the signalfd counts. Taking it empties the signalfd, so the pipe keeps
    // fd() readable (one byte per signal) for whoever polls and consume()s next.
    for (int n = take_signals(); n > 0; --n) {
      const char b = 1;
      [[maybe_unused]] ssize_t r = ::write(write_fd_, &b, 1);
    }
  }
  return seen();
}

bool StopSignal::seen() const noexcept {
  return requested_.load() || (catch_signals_ && g_stop_requested.load());
}

std::string StopSignal::reason() const {
  if (catch_signals_ && g_stop_requested.load()) {
    const int sig = g_last_signal.load();
    if (sig == SIGINT) return "SIGINT";
    if (sig == SIGTERM) return "SIGTERM";
  }
  return requested_.load() ? "stop()" : "";
}

void StopSignal::request_stop() noexcept {
  requested_.store(true);
  const char b = 0;
  [[maybe_unused]] ssize_t r = ::write(write_fd_, &b, 1);
}

}  // namespace brook
