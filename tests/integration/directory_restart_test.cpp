// The directory is soft state: killing it does not disturb established channels, nodes
// re-register on their own when it returns, and a node started afterwards joins.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>

#include "support/cluster.hpp"

namespace brook::test {
namespace {

TEST(DirectoryRestart, TrafficFlowsWhileItIsDownAndNodesComeBack) {
  Cluster c;
  c.start_directory();
  const std::string endpoint = c.directory_endpoint();
  c.write_topology(R"(
topology: restart
directory: {endpoints: ["{DIRECTORY}"], ttl: 3s, heartbeat: 1s}
channels:
  work: {pattern: pipeline}
nodes:
  source:
    exec: brook-test-source
    outputs: {out: work}
    params: {count: 12000, rate: 2000}
  sink:
    exec: brook-test-sink
    replicas: 2
    inputs: {in: work}
    params: {report: "{DIR}/sink-{instance}.txt"}
)");
  auto s0 = c.start_node("brook-test-sink", "sink", 0);
  auto source = c.start_node("brook-test-source", "source", 0);
  ASSERT_TRUE(
      wait_for([&] { return c.counter("sink", "work", &ChannelCounters::received) > 1000; }, 10s));

  c.directory().signal(SIGKILL);
  ASSERT_TRUE(c.directory().wait(5s).has_value());
  std::this_thread::sleep_for(1500ms);  // down for a while: the stream must keep going
  const auto restarted_at = std::chrono::steady_clock::now();
  c.start_directory(endpoint);
  ASSERT_EQ(c.directory_endpoint(), endpoint);

  // Both nodes register again on their own, within a couple of heartbeats.
  ASSERT_TRUE(wait_for(
      [&] {
        try {
          auto live = c.live_instances();
          return live.count("sink.0") && live.count("source.0");
        } catch (const Error&) {
          return false;
        }
      },
      5s));
  const auto rejoin_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - restarted_at)
                             .count();

  // A node started now finds the producer through the new directory and gets work.
  const auto join_start = std::chrono::steady_clock::now();
  auto s1 = c.start_node("brook-test-sink", "sink", 1);
  const auto join_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - join_start)
                           .count();
  EXPECT_LT(join_ms, 2000) << "a new node must join within 2 s of the directory being back";

  ASSERT_EQ(source.wait(30s), 0) << source.log();
  ASSERT_TRUE(
      wait_for([&] { return c.counter("sink", "work", &ChannelCounters::received) == 12000; }, 15s))
      << c.counter("sink", "work", &ChannelCounters::received);
  ASSERT_EQ(s0.stop(), 0) << s0.log();
  ASSERT_EQ(s1.stop(), 0) << s1.log();

  std::map<std::uint64_t, int> seen;
  auto r0 = read_report(c.dir() / "sink-0.txt");
  auto r1 = read_report(c.dir() / "sink-1.txt");
  for (const auto* r : {&r0, &r1}) {
    for (const auto& m : r->messages)
      ++seen[m.n];
  }
  std::uint64_t lost = 0, dup = 0;
  for (std::uint64_t n = 1; n <= 12000; ++n) {
    if (!seen.count(n))
      ++lost;
    else if (seen[n] > 1)
      ++dup;
  }
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(dup, 0u);
  EXPECT_GT(r1.messages.size(), 0u) << "the node that joined after the restart got work";
  std::cout << "[ measured ] re-registered " << rejoin_ms << " ms after restart; new node ready in "
            << join_ms << " ms; sink.0 " << r0.messages.size() << ", sink.1 " << r1.messages.size()
            << ", lost " << lost << "\n";
}

TEST(DirectoryRestart, KilledTwiceMidStreamLosesNothing) {
  constexpr std::uint64_t kCount = 16000;
  Cluster c;
  c.start_directory();
  const std::string endpoint = c.directory_endpoint();
  c.write_topology(R"(
topology: restart-twice
directory: {endpoints: ["{DIRECTORY}"], ttl: 2s, heartbeat: 500ms}
channels:
  work: {delivery: at-least-once}
nodes:
  source: {exec: brook-test-source, outputs: {out: work}, params: {count: 16000, rate: 2000}}
  sink: {exec: brook-test-sink, replicas: 2, inputs: {in: work}, params: {report: "{DIR}/sink-{instance}.txt"}}
)");
  auto s0 = c.start_node("brook-test-sink", "sink", 0);
  auto s1 = c.start_node("brook-test-sink", "sink", 1);
  auto source = c.start_node("brook-test-source", "source", 0);
  for (const std::uint64_t at : {2000u, 8000u}) {
    ASSERT_TRUE(
        wait_for([&] { return c.counter("sink", "work", &ChannelCounters::received) > at; }, 15s));
    c.directory().signal(SIGKILL);
    ASSERT_TRUE(c.directory().wait(5s).has_value());
    std::this_thread::sleep_for(1s);
    c.start_directory(endpoint);
    ASSERT_TRUE(wait_for(
        [&] {
          try {
            return c.live_instances().size() == 3;
          } catch (const Error&) {
            return false;
          }
        },
        5s));
  }
  ASSERT_EQ(source.wait(30s), 0) << source.log();
  ASSERT_TRUE(wait_for(
      [&] { return c.counter("sink", "work", &ChannelCounters::received) >= kCount; }, 15s));
  ASSERT_EQ(s0.stop(), 0);
  ASSERT_EQ(s1.stop(), 0);
  std::map<std::uint64_t, int> seen;
  for (const char* f : {"sink-0.txt", "sink-1.txt"}) {
    for (const auto& m : read_report(c.dir() / f).messages)
      ++seen[m.n];
  }
  std::uint64_t lost = 0, dup = 0;
  for (std::uint64_t n = 1; n <= kCount; ++n) {
    if (!seen.count(n))
      ++lost;
    else if (seen[n] > 1)
      ++dup;
  }
  std::cout << "[ measured ] directory SIGKILLed twice: sent " << kCount << ", lost " << lost
            << ", duplicated " << dup << "\n";
  EXPECT_EQ(lost, 0u);
}

// A directory stopped for longer than the ttl (SIGSTOP: a debugger, a VM pause) must not expire
// the leases of nodes that kept heartbeating: their heartbeats wait in its queues, and the time
// it did not run is given back to every lease.
TEST(DirectoryRestart, AStoppedDirectoryExpiresNobody) {
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: stall
directory: {endpoints: ["{DIRECTORY}"], ttl: 3s, heartbeat: 1s}
channels:
  work: {pattern: pipeline}
nodes:
  source: {exec: brook-test-source, outputs: {out: work}, params: {count: 30000, rate: 1000}}
  sink: {exec: brook-test-sink, inputs: {in: work}}
)");
  auto sink = c.start_node("brook-test-sink", "sink", 0);
  auto source = c.start_node("brook-test-source", "source", 0);
  ASSERT_TRUE(
      wait_for([&] { return c.counter("sink", "work", &ChannelCounters::received) > 500; }, 10s));
  std::map<std::string, InstanceInfo> before;
  for (const auto& i : c.client().list().instances)
    before[i.node] = i;
  ASSERT_EQ(before.size(), 2u);

  c.directory().signal(SIGSTOP);
  std::this_thread::sleep_for(7s);  // the stall under test: longer than the 3 s ttl
  c.directory().signal(SIGCONT);
  std::this_thread::sleep_for(3s);  // a ttl: an expiry, had there been one, is logged by now

  std::map<std::string, InstanceInfo> after;
  try {
    for (const auto& i : c.client().list().instances)
      after[i.node] = i;
  } catch (const Error& e) {
    FAIL() << e.what() << "\n" << c.directory().log();
  }
  ASSERT_EQ(after.size(), 2u);
  for (const auto& [node, b] : before) {
    ASSERT_TRUE(after.count(node)) << node;
    EXPECT_EQ(after[node].incarnation, b.incarnation) << node;
    EXPECT_GE(after[node].registered_ms, b.registered_ms + 9000)
        << node << " registered again: its lease ran out while the directory was stopped";
  }
  const std::string directory_log = c.directory().log();
  EXPECT_EQ(directory_log.find("lease expired"), std::string::npos) << directory_log;
  EXPECT_NE(directory_log.find("did not run for"), std::string::npos) << directory_log;
  for (auto* p : {&source, &sink}) {
    const std::string log = p->log();
    EXPECT_EQ(log.find("does not know this instance"), std::string::npos) << log;
    EXPECT_EQ(log.find("is gone with"), std::string::npos) << log;
  }
  EXPECT_EQ(source.stop(), 0) << source.log();
  EXPECT_EQ(sink.stop(), 0) << sink.log();
}

}  // namespace
}  // namespace brook::test
