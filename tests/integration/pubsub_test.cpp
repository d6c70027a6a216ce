// Pubsub channels: every instance of every subscribing node gets a copy of every message
// published after it is ready.
#include <gtest/gtest.h>

#include <map>

#include "support/cluster.hpp"

namespace brook::test {
namespace {

constexpr const char* kTopology = R"(
topology: broadcast
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms}
channels:
  prices: {pattern: pubsub}
nodes:
  source:
    exec: brook-test-source
    outputs: {out: prices}
    params: {count: 10000, rate: RATE}
  quotes:
    exec: brook-test-sink
    replicas: 3
    inputs: {in: prices}
    params: {report: "{DIR}/quotes-{instance}.txt"}
  audit:
    exec: brook-test-sink
    inputs: {in: prices}
    params: {report: "{DIR}/audit-{instance}.txt"}
)";

std::string topology(const std::string& rate) {
  std::string t = kTopology;
  t.replace(t.find("RATE"), 4, rate);
  return t;
}

TEST(Pubsub, EveryInstanceReceivesEveryMessage) {
  Cluster c;
  c.start_directory();
  c.write_topology(topology("0"));
  auto q0 = c.start_node("brook-test-sink", "quotes", 0);
  auto q1 = c.start_node("brook-test-sink", "quotes", 1);
  auto a0 = c.start_node("brook-test-sink", "audit", 0);
  auto source = c.start_node("brook-test-source", "source", 0);
  ASSERT_EQ(source.wait(30s), 0) << source.log();
  ASSERT_TRUE(wait_for(
      [&] {
        return c.counter("quotes", "prices", &ChannelCounters::received) == 20000 &&
               c.counter("audit", "prices", &ChannelCounters::received) == 10000;
      },
      20s))
      << "quotes " << c.counter("quotes", "prices", &ChannelCounters::received) << ", audit "
      << c.counter("audit", "prices", &ChannelCounters::received);
  for (auto* p : {&q0, &q1, &a0})
    ASSERT_EQ(p->stop(), 0) << p->log();
  for (const char* f : {"quotes-0.txt", "quotes-1.txt", "audit-0.txt"}) {
    auto r = read_report(c.dir() / f);
    ASSERT_TRUE(r.complete) << f;
    ASSERT_EQ(r.messages.size(), 10000u) << f;
    for (std::uint64_t i = 0; i < r.messages.size(); ++i) {
      ASSERT_EQ(r.messages[i].n, i + 1) << f << ": pubsub from one publisher arrives in order";
    }
  }
}

TEST(Pubsub, ALateSubscriberGetsEverythingAfterItIsReady) {
  Cluster c;
  c.start_directory();
  c.write_topology(topology("4000"));  // 10000 messages over 2.5 s
  auto q0 = c.start_node("brook-test-sink", "quotes", 0);
  auto a0 = c.start_node("brook-test-sink", "audit", 0);
  auto source = c.start_node("brook-test-source", "source", 0);
  ASSERT_TRUE(wait_for(
      [&] { return c.counter("source", "prices", &ChannelCounters::emitted) > 1000; }, 10s));
  auto late = c.start_node("brook-test-sink", "quotes", 2);
  ASSERT_EQ(source.wait(30s), 0) << source.log();
  ASSERT_TRUE(wait_for(
      [&] { return c.counter("audit", "prices", &ChannelCounters::received) == 10000; }, 20s));
  for (auto* p : {&q0, &a0, &late})
    ASSERT_EQ(p->stop(), 0) << p->log();

  auto r = read_report(c.dir() / "quotes-2.txt");
  ASSERT_TRUE(r.complete);
  ASSERT_FALSE(r.messages.empty()) << "the late subscriber joined while publishing went on";
  ASSERT_LT(r.messages.size(), 10000u) << "it cannot have seen messages from before it joined";
  // From its first message on, nothing is missing up to the end of the stream.
  const std::uint64_t first = r.messages.front().n;
  for (std::uint64_t i = 0; i < r.messages.size(); ++i) {
    ASSERT_EQ(r.messages[i].n, first + i);
  }
  EXPECT_EQ(r.messages.back().n, 10000u);
  std::cout << "[ measured ] late subscriber joined at message " << first << " of 10000\n";
}

}  // namespace
}  // namespace brook::test
