// Test support: a LAN of hosts made of network namespaces (scripts/netns), for multi-host tests
// on one machine. Host i (1..N) has address 10.77.0.i, reachable from the other hosts through a
// bridge but not from the test's own namespace. Needs root (CAP_NET_ADMIN + CAP_SYS_ADMIN):
// without it available() is false and the test should GTEST_SKIP() with why_unavailable().
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace brook::test {

class NetnsBed {
 public:
  // Creates `hosts` hosts under a prefix unique to this process and object.
  explicit NetnsBed(int hosts);
  ~NetnsBed();  // kills every process in the hosts and removes them
  NetnsBed(const NetnsBed&) = delete;
  NetnsBed& operator=(const NetnsBed&) = delete;

  bool available() const noexcept { return available_; }
  const std::string& why_unavailable() const noexcept { return why_; }
  const std::string& prefix() const noexcept { return prefix_; }
  int hosts() const noexcept { return hosts_; }

  static std::string address(int host);  // "10.77.0.<host>"
  std::string name(int host) const;      // the namespace, "<prefix>-<host>"
  // argv prefix that runs a program inside `host`: {"/usr/sbin/ip", "netns", "exec", name}.
  std::vector<std::string> exec_prefix(int host) const;
  // Runs `fn` on a thread inside `host`'s network namespace and waits for it. Sockets made
  // there (and a ZeroMQ context's I/O threads started there) stay in that namespace.
  void in_host(int host, const std::function<void()>& fn) const;

  void cut(int host);   // partition: the host's bridge port goes down, packets are lost
  void heal(int host);  // and comes back
  void kill(int host);  // SIGKILLs every process inside the host

 private:
  void script(const std::vector<std::string>& args) const;  // throws naming the failure

  std::string prefix_;
  int hosts_ = 0;
  bool available_ = false;
  std::string why_;
};

}  // namespace brook::test
