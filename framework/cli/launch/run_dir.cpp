#include "launch/run_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <brook/error.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>

namespace brook::launch {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPidFile = "brook.pid";
constexpr const char* kRunDirs = ".brook-run";

std::optional<pid_t> read_pid(const fs::path& file) {
  std::ifstream in(file);
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return std::nullopt;
  return static_cast<pid_t>(pid);
}

}  // namespace

fs::path default_run_dir(const std::string& topology, const fs::path& base) {
  return base / kRunDirs / topology;
}

std::optional<pid_t> running_launcher(const fs::path& dir) {
  const int fd = ::open((dir / kPidFile).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  // Locked while the launcher lives: the lock goes with the process, however it ends.
  const bool locked = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  if (!locked) return std::nullopt;
  return read_pid(dir / kPidFile).value_or(0);
}

fs::path choose_run_dir(const std::optional<fs::path>& given,
                        const std::optional<std::string>& topology, const fs::path& base) {
  if (given) return *given;
  if (topology) return default_run_dir(*topology, base);
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(base / kRunDirs, ec)) {
    if (e.is_directory() && fs::exists(e.path() / kPidFile)) found.push_back(e.path());
  }
  if (found.size() == 1) return found.front();
  if (found.empty()) {
    throw UsageError("no launch found: no run directory under " + (base / kRunDirs).string() +
                     " (start one with brook up TOPOLOGY -d, or pass --run-dir DIR or "
                     "--topology FILE)");
  }
  std::string names;
  for (const auto& f : found)
    names += (names.empty() ? "" : ", ") + f.filename().string();
  throw UsageError("several launches under " + (base / kRunDirs).string() + " (" + names +
                   "): pass --topology FILE or --run-dir DIR");
}

RunDir::RunDir(fs::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  fs::create_directories(dir_ / "logs", ec);
  if (ec) {
    throw Error("cannot create the run directory " + dir_.string() + ": " + ec.message() +
                " (pass --run-dir DIR somewhere writable)");
  }
  fd_ = ::open((dir_ / kPidFile).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw Error("cannot open " + (dir_ / kPidFile).string() + ": " + std::strerror(errno));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const auto pid = read_pid(dir_ / kPidFile);
    ::close(fd_);
    fd_ = -1;
    throw Error("a launch is already running in " + dir_.string() +
                (pid ? " (brook up, pid " + std::to_string(*pid) + ")" : std::string()) +
                ": see it with brook status --run-dir " + dir_.string() +
                ", stop it with brook down --run-dir " + dir_.string() +
                ", or give this one another --run-dir");
  }
  // Ours now: what a previous launch left (a killed one leaves its socket) goes.
  fs::remove(control_socket(), ec);
  for (const auto& e : fs::directory_iterator(dir_ / "logs", ec))
    fs::remove(e.path(), ec);
  fs::remove(launcher_log(), ec);
  write_pid(::getpid());
}

RunDir::~RunDir() {
  if (!owner_) return;
  std::error_code ec;
  fs::remove(control_socket(), ec);
  if (fd_ >= 0) {
    fs::remove(dir_ / kPidFile, ec);  // before unlocking: a new launch creates its own
    ::close(fd_);
  }
}

void RunDir::leave_to_daemon() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  owner_ = false;
}

fs::path RunDir::instance_log(const std::string& instance) const {
  return dir_ / "logs" / (instance + ".log");
}

void RunDir::write_pid(pid_t pid) {
  const std::string s = std::to_string(pid) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, s.data(), s.size(), 0) < 0) {
    throw Error("cannot write " + (dir_ / kPidFile).string() + ": " + std::strerror(errno));
  }
}

InstanceLogs::~InstanceLogs() {
  for (const auto& [name, fd] : fds_)
    if (fd >= 0) ::close(fd);
}

void InstanceLogs::line(const std::string& instance, std::string_view text) {
  int fd = -1;
  for (const auto& [name, f] : fds_) {
    if (name == instance) fd = f;
  }
  if (fd < 0) {
    fd = ::open(dir_.instance_log(instance).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                0644);
    fds_.emplace_back(instance, fd);  // -1 stays: a log that cannot open is not retried per line
  }
  if (fd < 0) return;
  std::string s(text);
  s.push_back('\n');
  (void)!::write(fd, s.data(), s.size());
}

std::pair<std::string, int> parse_scale(const std::string& arg) {
  const auto eq = arg.find('=');
  int n = 0;
  const char* end = arg.data() + arg.size();
  if (eq == std::string::npos || eq == 0 ||
      std::from_chars(arg.data() + eq + 1, end, n).ptr != end || eq + 1 == arg.size()) {
    throw UsageError("expected NODE=COUNT, e.g. relay=4 (got '" + arg + "')");
  }
  if (n < 1) {
    throw UsageError("'" + arg +
                     "': a node keeps at least 1 replica (brook down stops everything)");
  }
  return {arg.substr(0, eq), n};
}

std::pair<std::string, std::optional<std::uint32_t>> parse_instance(const std::string& arg) {
  if (arg.empty()) throw UsageError("expected NODE or NODE.INSTANCE, e.g. relay or relay.1");
  const auto dot = arg.rfind('.');
  if (dot != std::string::npos && dot > 0 && dot + 1 < arg.size()) {
    std::uint32_t i = 0;
    const char* end = arg.data() + arg.size();
    if (std::from_chars(arg.data() + dot + 1, end, i).ptr == end) return {arg.substr(0, dot), i};
  }
  return {arg, std::nullopt};
}

}  // namespace brook::launch
