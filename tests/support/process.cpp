#include "support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace brook::test {

std::string bin(const std::string& name) {
  return std::string(BROOK_BIN_DIR) + "/" + name;
}
std::string source_path(const std::string& relative) {
  return std::string(BROOK_SOURCE_DIR) + "/" + relative;
}

bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
              std::chrono::milliseconds every) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(every);
  }
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "brook-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (std::getenv("BROOK_KEEP_TEST_FILES") != nullptr) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::write(const std::string& name, const std::string& content) const {
  const auto p = path_ / name;
  std::ofstream(p) << content;
  return p;
}

std::uint64_t rss_kib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

std::string tail(const std::filesystem::path& file, std::size_t lines) {
  std::ifstream in(file);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last)
    out += l + "\n";
  return out;
}

Process Process::start(Options options) {
  int ready[2] = {-1, -1};
  if (options.wait_ready && ::pipe2(ready, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  const int log_fd = ::open(options.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cannot open log " + options.log.string());

  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv(*e);
    const auto key = kv.substr(0, kv.find('='));
    if (options.env.count(key) || key == "BROOK_READY_FD") continue;
    env_strings.push_back(kv);
  }
  for (const auto& [k, v] : options.env)
    env_strings.push_back(k + "=" + v);
  if (options.wait_ready) env_strings.push_back("BROOK_READY_FD=" + std::to_string(ready[1]));
  std::vector<char*> envp;
  for (auto& s : env_strings)
    envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<char*> argv;
  for (auto& a : options.argv)
    argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    if (options.wait_ready) {
      // Keep the write end open across exec (drop CLOEXEC on it only).
      ::fcntl(ready[1], F_SETFD, 0);
    }
    ::execve(argv[0], argv.data(), envp.data());
    std::fprintf(stderr, "exec %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(log_fd);

  Process p;
  p.pid_ = pid;
  p.log_ = options.log;
  if (!options.wait_ready) return p;

  ::close(ready[1]);
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + options.ready_timeout;
  bool got = false;
  while (!got) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd pfd{ready[0], POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[512];
    const ssize_t n = ::read(ready[0], buf, sizeof buf);
    if (n <= 0) break;  // closed without a READY line: the process exited or gave up
    line.append(buf, static_cast<std::size_t>(n));
    got = line.find('\n') != std::string::npos;
  }
  ::close(ready[0]);
  if (!got || line.rfind("READY ", 0) != 0) {
    p.signal(SIGKILL);
    (void)p.wait(5s);
    throw std::runtime_error("process " + options.argv[0] + " did not become ready within " +
                             std::to_string(options.ready_timeout.count()) + " ms; log:\n" +
                             tail(options.log));
  }
  p.ready_info_ = line.substr(6, line.find('\n') - 6);
  return p;
}

Process::Process(Process&& other) noexcept {
  *this = std::move(other);
}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = other.pid_;
    status_ = other.status_;
    ready_info_ = std::move(other.ready_info_);
    log_ = std::move(other.log_);
    other.pid_ = -1;
    other.status_.reset();
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

bool Process::running() {
  return pid_ > 0 && !wait(0ms).has_value();
}

std::string Process::ready_value(const std::string& key) const {
  std::istringstream in(ready_info_);
  std::string word;
  while (in >> word) {
    if (word.rfind(key + "=", 0) == 0) return word.substr(key.size() + 1);
  }
  return {};
}

void Process::signal(int sig) {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  if (pid_ <= 0) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return status_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
}

int Process::stop(std::chrono::milliseconds grace) {
  signal(SIGTERM);
  if (auto st = wait(grace)) return *st;
  signal(SIGKILL);
  return wait(10s).value_or(-1);
}

std::string Process::log() const {
  std::ifstream in(log_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace brook::test
