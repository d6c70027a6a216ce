// A burst of connections while the listening process is not running (starved of CPU, as under a
// large `brook up`, here stopped with SIGSTOP): the kernel completes them all and queues them for
// the process to accept. A queue too short for the burst drops the extra connections' SYNs, and
// their connect() is retried only after 1 s, then 3, 7, 15 s: each such node waits that long for
// its directory, or a producer for its consumer.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "support/cluster.hpp"

namespace brook::test {
namespace {

using namespace std::chrono_literals;

constexpr int kBurst = 300;  // three times libzmq's default listen backlog

// Opens `count` non-blocking TCP connections to "tcp://127.0.0.1:port" at once; returns how many
// completed their handshake within `within`.
int connections_completed(const std::string& endpoint, int count,
                          std::chrono::milliseconds within) {
  const int port = std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<pollfd> fds;
  for (int i = 0; i < count; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 &&
        errno != EINPROGRESS) {
      ::close(fd);
      continue;
    }
    fds.push_back(pollfd{fd, POLLOUT, 0});
  }
  int completed = 0;
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (::poll(fds.data(), fds.size(), static_cast<int>(left.count()) + 1) <= 0) continue;
    for (auto& p : fds) {
      if (p.fd < 0 || p.revents == 0) continue;
      int error = 0;
      socklen_t size = sizeof error;
      (void)::getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &error, &size);
      if (error == 0 && (p.revents & POLLOUT) != 0) ++completed;
      ::close(p.fd);
      p.fd = -1;  // poll() skips it from now on
    }
    if (completed == count) break;
  }
  for (const auto& p : fds) {
    if (p.fd >= 0) ::close(p.fd);
  }
  return completed;
}

// The kernel's cap on every listen queue (net.core.somaxconn).
int somaxconn() {
  std::ifstream in("/proc/sys/net/core/somaxconn");
  int n = 0;
  return in >> n ? n : 0;
}

// Runs the burst against `endpoint` while `p` is stopped, and lets it run again after.
int burst_while_stopped(Process& p, const std::string& endpoint) {
  p.signal(SIGSTOP);
  // A dropped SYN is first sent again after 1 s: within that, only queued connections complete.
  const int completed = connections_completed(endpoint, kBurst, 700ms);
  p.signal(SIGCONT);
  return completed;
}

TEST(ConnectionBurst, AStoppedDirectoryStillQueuesEveryConnection) {
  if (somaxconn() < kBurst) {
    GTEST_SKIP() << "net.core.somaxconn is " << somaxconn() << ": the kernel caps every listen "
                 << "queue below the burst of " << kBurst;
  }
  Cluster c;
  Process& directory = c.start_directory();
  EXPECT_EQ(burst_while_stopped(directory, c.directory_endpoint()), kBurst);
}

TEST(ConnectionBurst, AStoppedNodeStillQueuesEveryConnectionToItsInput) {
  if (somaxconn() < kBurst) {
    GTEST_SKIP() << "net.core.somaxconn is " << somaxconn() << ": the kernel caps every listen "
                 << "queue below the burst of " << kBurst;
  }
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: burst
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms}
channels:
  work: {pattern: pipeline, external: true}
nodes:
  sink:
    exec: brook-test-sink
    inputs: {in: work}
)");
  auto sink = c.start_node("brook-test-sink", "sink", 0);
  const auto entries = c.client().resolve("work").entries;
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(burst_while_stopped(sink, entries[0].reg.endpoint), kBurst);
}

}  // namespace
}  // namespace brook::test
