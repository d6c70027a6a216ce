#include "launch/detach.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <brook/error.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>

#include "util/lifecycle.hpp"

namespace brook::launch {

namespace {

constexpr std::size_t kTailLines = 40;

std::string value_of(const std::string& line, const std::string& key) {
  const auto at = line.find(" " + key + "=");
  if (at == std::string::npos) return {};
  const auto begin = at + key.size() + 2;
  return line.substr(begin, line.find(' ', begin) - begin);
}

void print_tail(const std::filesystem::path& log) {
  std::ifstream in(log);
  std::deque<std::string> tail;
  for (std::string l; std::getline(in, l);) {
    tail.push_back(l);
    if (tail.size() > kTailLines) tail.pop_front();
  }
  for (const auto& l : tail)
    std::cerr << "  " << l << "\n";
}

// The caller's side: the daemon's READY line, or end of file.
int wait_for_daemon(int fd, const RunDir& dir, const std::string& topology, int user_ready_fd) {
  std::string got;
  char buf[512];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const std::string line = got.substr(0, got.find('\n'));
  const std::string d = dir.path().string();
  if (line.rfind("READY", 0) != 0) {
    std::cerr << "brook up: topology '" << topology << "' did not start; the end of its log ("
              << dir.launcher_log().string() << "):\n";
    print_tail(dir.launcher_log());
    return 1;
  }
  if (user_ready_fd >= 0) {
    const std::string l = line + "\n";
    (void)!::write(user_ready_fd, l.data(), l.size());
    ::close(user_ready_fd);
  }
  std::ifstream pid_file(dir.path() / "brook.pid");
  std::string pid;
  pid_file >> pid;
  std::cout << "brook up: " << line << "\n"
            << "brook up: topology '" << topology << "' runs in the background (pid " << pid
            << "), run directory " << d << "\n"
            << "brook up: brook status --run-dir " << d << " | brook logs NODE --run-dir " << d
            << " | brook down --run-dir " << d << std::endl;
  const std::string instances = value_of(line, "instances");
  const auto slash = instances.find('/');
  if (slash == std::string::npos || instances.substr(0, slash) != instances.substr(slash + 1)) {
    std::cerr << "brook up: only " << instances
              << " instance(s) became ready; the rest keep starting or failed (brook status)\n";
    return 1;
  }
  return 0;
}

}  // namespace

std::optional<int> detach(RunDir& dir, const std::string& topology) {
  int user_ready_fd = -1;
  if (const char* v = std::getenv(kReadyFdEnv); v != nullptr && *v != '\0') {
    user_ready_fd = std::atoi(v);
    ::unsetenv(kReadyFdEnv);
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw Error(std::string("pipe: ") + std::strerror(errno));
  std::cout.flush();
  const pid_t first = ::fork();
  if (first < 0) throw Error(std::string("fork: ") + std::strerror(errno));
  if (first > 0) {
    ::close(pipe_fds[1]);
    int status = 0;
    while (::waitpid(first, &status, 0) < 0 && errno == EINTR) {
    }
    const int code = wait_for_daemon(pipe_fds[0], dir, topology, user_ready_fd);
    dir.leave_to_daemon();
    return code;
  }
  // The intermediate child: a new session without a terminal, then the daemon, its child, which
  // is no session leader and so can never get a controlling terminal back.
  ::setsid();
  if (::fork() != 0) ::_exit(0);
  ::close(pipe_fds[0]);
  if (user_ready_fd >= 0) ::close(user_ready_fd);
  const int null_fd = ::open("/dev/null", O_RDONLY);
  const int log_fd =
      ::open(dir.launcher_log().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
  if (log_fd >= 0) {
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
  }
  for (int fd : {null_fd, log_fd})
    if (fd > STDERR_FILENO) ::close(fd);
  dir.write_pid(::getpid());
  ::setenv(kReadyFdEnv, std::to_string(pipe_fds[1]).c_str(), 1);
  return std::nullopt;
}

}  // namespace brook::launch
