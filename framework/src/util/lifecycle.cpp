#include <brook/lifecycle.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <brook/error.hpp>

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
  struct sigaction sa{};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking poll returns EINTR and notices the stop at once
  ::sigaction(sig, &sa, nullptr);
}
}  // namespace

void notify_ready(std::string_view detail) {
  static std::once_flag once;
  std::call_once(once, [&] {
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

StopSignal::StopSignal(bool catch_signals) : catch_signals_(catch_signals) {
  if (catch_signals_ && g_instance_alive.exchange(true)) {
    throw Error("StopSignal: only one signal-catching instance may exist at a time");
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    if (catch_signals_) g_instance_alive = false;
    throw Error(std::string("pipe2: ") + std::strerror(errno));
  }
  read_fd_ = fds[0];
  write_fd_ = fds[1];
  if (catch_signals_) {
    g_stop_requested = false;
    g_last_signal = 0;
    g_stop_write_fd = write_fd_;
    install(SIGINT, on_signal);
    install(SIGTERM, on_signal);
    ::signal(SIGPIPE, SIG_IGN);
  }
}

StopSignal::~StopSignal() {
  if (catch_signals_) {
    install(SIGINT, SIG_DFL);
    install(SIGTERM, SIG_DFL);
    g_stop_write_fd = -1;
    g_instance_alive = false;
  }
  ::close(read_fd_);
  ::close(write_fd_);
}

bool StopSignal::requested() const noexcept {
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
