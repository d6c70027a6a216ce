// Test support: start real processes (the directory, nodes) and wait on conditions with
// deadlines. A child is started with BROOK_READY_FD so start() returns only once it is ready
// (CZMQ zactor style); its stdout and stderr go to a log file the test can print on failure.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace brook::test {

using namespace std::chrono_literals;

// Absolute path of an executable built by this project.
std::string bin(const std::string& name);
// Absolute path inside the source tree.
std::string source_path(const std::string& relative);

// Polls `condition` every `every` until it holds or `timeout` passes. Returns its last value.
bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
              std::chrono::milliseconds every = 10ms);

// A directory for one test's files, removed afterwards unless BROOK_KEEP_TEST_FILES is set.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  // Writes a file and returns its path.
  std::filesystem::path write(const std::string& name, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

class Process {
 public:
  struct Options {
    std::vector<std::string> argv;
    std::map<std::string, std::string> env;  // added to the test's environment
    std::filesystem::path log;               // stdout+stderr; required
    bool wait_ready = true;
    std::chrono::milliseconds ready_timeout = 15s;
  };

  // Starts the process; with wait_ready, returns once it wrote its READY line and throws
  // (with the log's tail) if it exits or times out first.
  static Process start(Options options);

  Process() = default;
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();  // SIGKILLs a child still running

  pid_t pid() const noexcept { return pid_; }
  bool running();
  // Text after "READY " on the ready line.
  const std::string& ready_info() const noexcept { return ready_info_; }
  // Value of `key=value` on the ready line.
  std::string ready_value(const std::string& key) const;

  void signal(int sig);
  // Exit code (or 128+signal) once exited, or nullopt if still running at the timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // SIGTERM, wait up to `grace`, then SIGKILL. Returns the exit status as wait() does.
  int stop(std::chrono::milliseconds grace = 10s);
  std::string log() const;
  const std::filesystem::path& log_path() const noexcept { return log_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string ready_info_;
  std::filesystem::path log_;
};

// The last `lines` lines of a text file (for failure messages).
std::string tail(const std::filesystem::path& file, std::size_t lines = 40);

// A process's resident set (VmRSS) in KiB; 0 once it is gone.
std::uint64_t rss_kib(pid_t pid);

// Built with AddressSanitizer: its allocator keeps freed memory in quarantine (256 MiB by
// default) and shadows every byte, so RSS bounds measure ASan, not brook; tests skip them.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif

}  // namespace brook::test
