// A child process started by `brook up`: its stdout and stderr arrive on one pipe (so lines keep
// their order), it reports readiness on another (BROOK_READY_FD) and what it failed to deliver
// on a third when it stops (BROOK_REPORT_FD, read once it exited), it runs in its own process
// group (a terminal's Ctrl-C reaches only the launcher, which stops children in order), and it
// receives SIGTERM if the launcher dies, so no child outlives `brook up`.
//
// Move-only owner of the pipes; the destructor closes them but does not kill or reap the
// process: the launcher decides that.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace brook::launch {

struct SpawnSpec {
  std::filesystem::path program;
  std::vector<std::string> args;           // argv[1..]
  std::map<std::string, std::string> env;  // added to (or replacing in) the launcher's
};

class ChildProcess {
 public:
  // Throws brook::Error when the pipes or vfork fail; an exec failure shows up as exit code 127
  // with the reason written to the output pipe.
  static ChildProcess spawn(const SpawnSpec& spec);

  ChildProcess() = default;
  ChildProcess(ChildProcess&& o) noexcept;
  ChildProcess& operator=(ChildProcess&& o) noexcept;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const noexcept { return pid_; }
  int output_fd() const noexcept { return output_fd_; }  // -1 once closed
  int ready_fd() const noexcept { return ready_fd_; }
  void close_output() noexcept;
  void close_ready() noexcept;
  // What the child wrote on its report pipe (read without blocking, at most 64 KiB); call once
  // it exited. Closes the pipe.
  std::string take_report();
  // Sends a signal to the child (not its group: nodes handle SIGTERM themselves).
  void signal(int sig) const noexcept;

 private:
  pid_t pid_ = -1;
  int output_fd_ = -1;
  int ready_fd_ = -1;
  int report_fd_ = -1;
};

// "exit 0", "exit 3", "killed by SIGKILL" for a waitpid status.
std::string describe_status(int status);
bool exited_cleanly(int status);

}  // namespace brook::launch
