// Pipeline channels between real processes: work sharing inside a consuming node, fan-out across
// consuming nodes, exactly-once delivery when nothing fails.
#include <gtest/gtest.h>

#include <map>

#include "support/cluster.hpp"

namespace brook::test {
namespace {

constexpr std::uint64_t kCount = 10000;

// Counts how often each n arrived across reports.
std::map<std::uint64_t, int> tally(const std::vector<SinkReport>& reports) {
  std::map<std::uint64_t, int> seen;
  for (const auto& r : reports) {
    for (const auto& m : r.messages)
      ++seen[m.n];
  }
  return seen;
}

void expect_exactly_once(const std::map<std::uint64_t, int>& seen, std::uint64_t count) {
  std::uint64_t lost = 0, duplicated = 0;
  for (std::uint64_t n = 1; n <= count; ++n) {
    auto it = seen.find(n);
    if (it == seen.end()) {
      ++lost;
    } else if (it->second > 1) {
      duplicated += static_cast<std::uint64_t>(it->second - 1);
    }
  }
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(duplicated, 0u);
  EXPECT_EQ(seen.size(), count) << "unexpected message numbers";
}

TEST(Pipeline, TwoReplicasShareTheWorkEachMessageOnce) {
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: share
directory: {endpoints: ["{DIRECTORY}"], ttl: 3s, heartbeat: 200ms}
channels:
  work: {pattern: pipeline}
nodes:
  source:
    exec: brook-test-source
    outputs: {out: work}
    params: {count: 10000}
  sink:
    exec: brook-test-sink
    replicas: 2
    inputs: {in: work}
    params: {report: "{DIR}/sink-{instance}.txt"}
)");
  auto s0 = c.start_node("brook-test-sink", "sink", 0);
  auto s1 = c.start_node("brook-test-sink", "sink", 1);
  auto source = c.start_node("brook-test-source", "source", 0);
  ASSERT_EQ(source.wait(30s), 0) << source.log();
  ASSERT_TRUE(wait_for(
      [&] { return c.counter("sink", "work", &ChannelCounters::received) == kCount; }, 20s))
      << "sinks received " << c.counter("sink", "work", &ChannelCounters::received);
  ASSERT_EQ(s0.stop(), 0) << s0.log();
  ASSERT_EQ(s1.stop(), 0) << s1.log();

  auto r0 = read_report(c.dir() / "sink-0.txt");
  auto r1 = read_report(c.dir() / "sink-1.txt");
  ASSERT_TRUE(r0.complete && r1.complete);
  expect_exactly_once(tally({r0, r1}), kCount);
  // Both replicas did real work (PUSH round-robins between connected replicas).
  EXPECT_GT(r0.messages.size(), kCount / 5) << "replica 0 got " << r0.messages.size();
  EXPECT_GT(r1.messages.size(), kCount / 5) << "replica 1 got " << r1.messages.size();
  std::cout << "[ measured ] replica 0: " << r0.messages.size()
            << ", replica 1: " << r1.messages.size() << " of " << kCount << "\n";
}

TEST(Pipeline, EveryConsumingNodeGetsEveryMessage) {
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: fanout
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms}
channels:
  work: {pattern: pipeline}
nodes:
  source:
    exec: brook-test-source
    outputs: {out: work}
    params: {count: 10000}
  pricing:
    exec: brook-test-sink
    inputs: {in: work}
    params: {report: "{DIR}/pricing-{instance}.txt"}
  order:
    exec: brook-test-sink
    replicas: 2
    inputs: {in: work}
    params: {report: "{DIR}/order-{instance}.txt"}
)");
  auto p0 = c.start_node("brook-test-sink", "pricing", 0);
  auto o0 = c.start_node("brook-test-sink", "order", 0);
  auto o1 = c.start_node("brook-test-sink", "order", 1);
  auto source = c.start_node("brook-test-source", "source", 0);
  ASSERT_EQ(source.wait(30s), 0) << source.log();
  ASSERT_TRUE(wait_for(
      [&] {
        return c.counter("pricing", "work", &ChannelCounters::received) == kCount &&
               c.counter("order", "work", &ChannelCounters::received) == kCount;
      },
      20s));
  for (auto* p : {&p0, &o0, &o1})
    ASSERT_EQ(p->stop(), 0) << p->log();
  expect_exactly_once(tally({read_report(c.dir() / "pricing-0.txt")}), kCount);
  expect_exactly_once(
      tally({read_report(c.dir() / "order-0.txt"), read_report(c.dir() / "order-1.txt")}), kCount);
}

TEST(Pipeline, MessagesEmittedBeforeAConsumerExistsAreHeldNotLost) {
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: held
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms}
channels:
  work: {pattern: pipeline}
nodes:
  source:
    exec: brook-test-source
    outputs: {out: work}
    params: {count: 500, exit_when_done: false}
    ready_timeout: 300ms
  sink:
    exec: brook-test-sink
    inputs: {in: work}
    params: {report: "{DIR}/sink-{instance}.txt"}
)");
  // The source gives up waiting after 300 ms and emits into the void: all 500 are held.
  auto source = c.start_node("brook-test-source", "source", 0);
  ASSERT_TRUE(
      wait_for([&] { return c.counter("source", "work", &ChannelCounters::pending) == 500; }, 10s));
  auto sink = c.start_node("brook-test-sink", "sink", 0);
  ASSERT_TRUE(
      wait_for([&] { return c.counter("sink", "work", &ChannelCounters::received) == 500; }, 10s));
  ASSERT_EQ(sink.stop(), 0) << sink.log();
  ASSERT_EQ(source.stop(), 0) << source.log();
  expect_exactly_once(tally({read_report(c.dir() / "sink-0.txt")}), 500);
}

TEST(Pipeline, ANodeWhoseCodeNamesAPortTheTopologyLacksExitsWithTheError) {
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: wrong-port
directory: {endpoints: ["{DIRECTORY}"]}
channels:
  ticks: {external: true}
nodes:
  printer: {exec: brook-example-printer, inputs: {ticks: ticks}}
)");
  // The printer's code handles port "in"; this topology calls its input "ticks".
  auto printer = c.start_node("brook-example-printer", "printer", 0, {}, false);
  const auto code = printer.wait(10s);
  ASSERT_TRUE(code.has_value()) << printer.log();
  EXPECT_EQ(*code, 2) << printer.log();
  EXPECT_NE(printer.log().find("error: node 'printer' has no input port 'in' in " +
                               c.topology().string() + ":7:3 (inputs: ticks)"),
            std::string::npos)
      << printer.log();
}

TEST(Pipeline, ANodeAskingForAnOutputTheTopologyLacksExitsAtStartWithTheError) {
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: wrong-output
directory: {endpoints: ["{DIRECTORY}"]}
channels:
  ticks: {}
nodes:
  ticker: {exec: brook-example-ticker, outputs: {tick: ticks}, params: {period: 10ms}}
  printer: {exec: brook-example-printer, inputs: {in: ticks}}
)");
  // The ticker's code takes a handle on port "out" before run(); this topology calls it "tick".
  // It must not start, look healthy and fail at its first emit.
  auto ticker = c.start_node("brook-example-ticker", "ticker", 0, {}, false);
  const auto code = ticker.wait(10s);
  ASSERT_TRUE(code.has_value()) << ticker.log();
  EXPECT_EQ(*code, 2) << ticker.log();
  EXPECT_NE(ticker.log().find("error: node 'ticker' has no output port 'out' in " +
                              c.topology().string() + ":7:3 (outputs: tick)"),
            std::string::npos)
      << ticker.log();
}

}  // namespace
}  // namespace brook::test
