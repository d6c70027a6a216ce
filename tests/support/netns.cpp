#include "netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "command.hpp"
#include "process.hpp"

namespace brook::test {

namespace {

std::string ip_program() {
  for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return {};
}

CommandResult run_script(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/bin/bash", source_path("scripts/netns")};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, std::chrono::seconds(30));
}

}  // namespace

NetnsBed::NetnsBed(int hosts) : hosts_(hosts) {
  static std::atomic<int> counter{0};
  prefix_ = "bk" + std::to_string(::getpid()) + "n" + std::to_string(counter++);
  if (ip_program().empty()) {
    why_ = "no `ip` program (iproute2) in /usr/sbin, /sbin, /usr/bin or /bin: install iproute2";
    return;
  }
  const auto r = run_script({"up", prefix_, std::to_string(hosts)});
  if (r.code != 0) {
    why_ = "cannot create network namespaces (scripts/netns up " + prefix_ + " " +
           std::to_string(hosts) + ": " + r.err +
           "); run the test as root or with CAP_NET_ADMIN and CAP_SYS_ADMIN";
    (void)run_script({"down", prefix_});
    return;
  }
  available_ = true;
}

NetnsBed::~NetnsBed() {
  (void)run_script({"down", prefix_});
}

std::string NetnsBed::address(int host) {
  return "10.77.0." + std::to_string(host);
}

std::string NetnsBed::name(int host) const {
  return prefix_ + "-" + std::to_string(host);
}

std::vector<std::string> NetnsBed::exec_prefix(int host) const {
  return {ip_program(), "netns", "exec", name(host)};
}

void NetnsBed::in_host(int host, const std::function<void()>& fn) const {
  const std::string path = "/var/run/netns/" + name(host);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw std::runtime_error("netns.cpp: cannot open " + path + ": " + std::strerror(errno));
  std::exception_ptr failure;
  // A thread of its own: setns() moves only the calling thread, which then ends.
  std::thread t([&] {
    try {
      if (::setns(fd, CLONE_NEWNET) != 0) {
        throw std::runtime_error("netns.cpp: setns into " + name(host) + ": " +
                                 std::strerror(errno) + " (needs CAP_SYS_ADMIN)");
      }
      fn();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  t.join();
  ::close(fd);
  if (failure) std::rethrow_exception(failure);
}

void NetnsBed::script(const std::vector<std::string>& args) const {
  const auto r = run_script(args);
  if (r.code != 0) {
    std::string cmd = "scripts/netns";
    for (const auto& a : args)
      cmd += " " + a;
    throw std::runtime_error("netns.cpp: " + cmd + " failed: " + r.describe());
  }
}

void NetnsBed::cut(int host) {
  script({"cut", prefix_, std::to_string(host)});
}

void NetnsBed::heal(int host) {
  script({"heal", prefix_, std::to_string(host)});
}

void NetnsBed::kill(int host) {
  script({"kill", prefix_, std::to_string(host)});
}

}  // namespace brook::test
