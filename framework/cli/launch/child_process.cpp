#include "launch/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <brook/error.hpp>
#include <cerrno>
#include <cstring>
#include <utility>

#include "util/lifecycle.hpp"

extern char** environ;

namespace brook::launch {

namespace {

constexpr int kChildReadyFd = 3;
constexpr int kChildReportFd = 4;
constexpr std::size_t kMaxReport = 64 * 1024;

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

void write_str(const char* s) noexcept {
  (void)!::write(STDOUT_FILENO, s, std::strlen(s));
}

[[noreturn]] void child_fail(const char* what, const std::string& program) {
  // Between vfork and exec: no allocation, only write(2) and _exit.
  const char* reason = std::strerror(errno);
  write_str("brook up: cannot start ");
  write_str(program.c_str());
  write_str(": ");
  write_str(what);
  write_str(": ");
  write_str(reason);
  write_str("\n");
  ::_exit(127);
}

}  // namespace

ChildProcess ChildProcess::spawn(const SpawnSpec& spec) {
  int out[2];
  int ready[2] = {-1, -1};
  int report[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0) throw Error(std::string("pipe: ") + std::strerror(errno));
  if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(report, O_CLOEXEC) != 0) {
    const int err = errno;
    for (int fd : {out[0], out[1], ready[0], ready[1]})
      if (fd >= 0) ::close(fd);
    throw Error(std::string("pipe: ") + std::strerror(err));
  }

  // Everything the child needs is built before vfork: after it, only system calls that touch no
  // memory of ours (the child shares it until exec; the launcher has no signal handlers, it reads
  // signals from a signalfd). vfork rather than fork: copying the page tables and then taking a
  // copy-on-write fault on every page the launcher touches afterwards cost ~2 ms per child here,
  // a fifth of the CPU `brook up` spent starting 100 nodes.
  std::vector<std::string> args{spec.program.string()};
  args.insert(args.end(), spec.args.begin(), spec.args.end());
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);

  std::map<std::string, std::string> env_map;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string::npos) env_map[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : spec.env)
    env_map[k] = v;
  env_map[kReadyFdEnv] = std::to_string(kChildReadyFd);
  env_map[kReportFdEnv] = std::to_string(kChildReportFd);
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env_map)
    env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings)
    envp.push_back(s.data());
  envp.push_back(nullptr);
  const std::string program = spec.program.string();
  const pid_t parent = ::getpid();

  const pid_t pid = ::vfork();
  if (pid < 0) {
    for (int fd : {out[0], out[1], ready[0], ready[1], report[0], report[1]})
      ::close(fd);
    throw Error(std::string("vfork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) child_fail("prctl", program);
    if (::getppid() != parent) ::_exit(1);  // the launcher died before prctl took effect
    // Signals the launcher ignores or catches are reset for the child by exec, except ignored
    // ones: restore SIGPIPE so a node gets the default behaviour.
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (::dup2(out[1], STDOUT_FILENO) < 0 || ::dup2(out[1], STDERR_FILENO) < 0 ||
        ::dup2(ready[1], kChildReadyFd) < 0 || ::dup2(report[1], kChildReportFd) < 0) {
      child_fail("dup2", program);
    }
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::close_range(kChildReportFd + 1, ~0U, 0);
    ::execve(program.c_str(), argv.data(), envp.data());
    child_fail("exec", program);
  }
  ::close(out[1]);
  ::close(ready[1]);
  ::close(report[1]);
  for (int fd : {out[0], ready[0], report[0]})
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
  ChildProcess c;
  c.pid_ = pid;
  c.output_fd_ = out[0];
  c.ready_fd_ = ready[0];
  c.report_fd_ = report[0];
  return c;
}

ChildProcess::ChildProcess(ChildProcess&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      output_fd_(std::exchange(o.output_fd_, -1)),
      ready_fd_(std::exchange(o.ready_fd_, -1)),
      report_fd_(std::exchange(o.report_fd_, -1)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    close_output();
    close_ready();
    close_fd(report_fd_);
    pid_ = std::exchange(o.pid_, -1);
    output_fd_ = std::exchange(o.output_fd_, -1);
    ready_fd_ = std::exchange(o.ready_fd_, -1);
    report_fd_ = std::exchange(o.report_fd_, -1);
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  close_output();
  close_ready();
  close_fd(report_fd_);
}

void ChildProcess::close_output() noexcept {
  close_fd(output_fd_);
}
void ChildProcess::close_ready() noexcept {
  close_fd(ready_fd_);
}

std::string ChildProcess::take_report() {
  std::string out;
  char buf[4096];
  while (report_fd_ >= 0 && out.size() < kMaxReport) {
    const ssize_t n = ::read(report_fd_, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;  // EOF, or nothing more (a grandchild may still hold the write end)
  }
  close_fd(report_fd_);
  return out;
}

void ChildProcess::signal(int sig) const noexcept {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = ::sigabbrev_np(WTERMSIG(status));
    return std::string("killed by ") +
           (name ? std::string("SIG") + name : "signal " + std::to_string(WTERMSIG(status)));
  }
  return "status " + std::to_string(status);
}

bool exited_cleanly(int status) {
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace brook::launch
