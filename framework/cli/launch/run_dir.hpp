// The run directory of a launch (`brook up --run-dir D`, `brook up -d`): where the tools that
// operate a running launch find it (brook status, logs, restart, scale, down).
//
//   D/brook.pid      the launcher's pid; locked (flock) while it runs, so a second launch of the
//                    same run directory is refused and a killed launcher leaves no stale lock
//   D/control.sock   the control socket (a Unix stream socket, control_server.hpp)
//   D/brook.log      the launcher's own output with every child's line, prefixed (as `brook up`
//                    prints it in the foreground)
//   D/logs/N.I.log   what instance I of node N wrote (stdout and stderr), over its restarts
//
// The default is .brook-run/<topology name>/ under the current directory. The pid file and the
// socket go when the launcher exits; the logs stay until the next launch there.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace brook::launch {

// .brook-run/<topology> under `base` (the current directory).
std::filesystem::path default_run_dir(const std::string& topology,
                                      const std::filesystem::path& base);

// The launch running in `dir`, if any: the pid in its pid file while that file is locked.
std::optional<pid_t> running_launcher(const std::filesystem::path& dir);

// The run directory a tool means: `given` (--run-dir), else that of `topology` (its name), else
// the only run directory under `base`/.brook-run. Throws UsageError naming the choices.
std::filesystem::path choose_run_dir(const std::optional<std::filesystem::path>& given,
                                     const std::optional<std::string>& topology,
                                     const std::filesystem::path& base);

// A run directory held by a launch. Creating it takes the lock or throws Error naming the launch
// that holds it and what to do; an unlocked leftover (a killed launcher) is taken over, its old
// logs removed. The destructor removes the pid file and the socket.
class RunDir {
 public:
  explicit RunDir(std::filesystem::path dir);
  ~RunDir();
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;

  const std::filesystem::path& path() const noexcept { return dir_; }
  std::filesystem::path control_socket() const { return dir_ / "control.sock"; }
  std::filesystem::path launcher_log() const { return dir_ / "brook.log"; }
  std::filesystem::path instance_log(const std::string& instance) const;
  // Records `pid` as the launcher (after a daemon's fork, its own).
  void write_pid(pid_t pid);
  // The lock's fd: kept open (it holds the lock) across a fork into the daemon.
  int lock_fd() const noexcept { return fd_; }
  // In the process that forked the daemon: close its copy and leave the files to the daemon
  // (the lock stays with the daemon's copy of the descriptor).
  void leave_to_daemon() noexcept;

 private:
  std::filesystem::path dir_;
  int fd_ = -1;
  bool owner_ = true;
};

// Appends child lines to per-instance log files (opened on first use, kept open).
class InstanceLogs {
 public:
  explicit InstanceLogs(const RunDir& dir) : dir_(dir) {}
  ~InstanceLogs();
  InstanceLogs(const InstanceLogs&) = delete;
  InstanceLogs& operator=(const InstanceLogs&) = delete;
  void line(const std::string& instance, std::string_view text);

 private:
  const RunDir& dir_;
  std::vector<std::pair<std::string, int>> fds_;
};

// "relay=4" -> {"relay", 4}; throws UsageError for another form or a count below 1.
std::pair<std::string, int> parse_scale(const std::string& arg);
// "relay" -> {"relay", nullopt}; "relay.2" -> {"relay", 2}. Throws UsageError when empty.
std::pair<std::string, std::optional<std::uint32_t>> parse_instance(const std::string& arg);

}  // namespace brook::launch
