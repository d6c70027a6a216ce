// The counters and gauges a node declares (Node::counter, Node::gauge): handles, name checks,
// bounds, what a unit test reads through brook::testing, and what reaches the heartbeat.
#include <gtest/gtest.h>

#include <brook/node.hpp>
#include <brook/testing.hpp>
#include <limits>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace brook {
namespace {

using testing::TestNode;

constexpr const char* kTopology = R"(
topology: metrics
channels:
  work: {external: true}
nodes:
  worker:
    exec: worker
    inputs: {in: work}
)";

TestNode worker() {
  TestNode t = TestNode::from_yaml(kTopology, "worker");
  t.node().on("in", [](const Message&) {});
  return t;
}

// The ConfigError text of fn(), or "" when it does not throw one.
template <class F>
std::string config_error(F&& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(UserCounters, CountAndGaugeThroughTheirHandles) {
  TestNode t = worker();
  Counter seen = t.node().counter("lines_seen");
  Gauge depth = t.node().gauge("queue_depth");
  EXPECT_EQ(t.counter("lines_seen"), 0u) << "declared from 0";
  EXPECT_EQ(t.gauge("queue_depth"), 0);
  ++seen;
  seen++;
  seen.add(40);
  depth.set(42);
  depth.add(-50);
  EXPECT_EQ(seen.value(), 42u);
  EXPECT_EQ(t.counter("lines_seen"), 42u);
  EXPECT_EQ(t.gauge("queue_depth"), -8);
  EXPECT_EQ(t.counters().user_counters.at("lines_seen"), 42u) << "what the heartbeat carries";
  EXPECT_EQ(t.counters().user_gauges.at("queue_depth"), -8);
}

TEST(UserCounters, HandlersUseTheHandlesOnTheLoopThread) {
  TestNode t = TestNode::from_yaml(kTopology, "worker");
  Counter handled = t.node().counter("handled");
  t.node().on<std::string>("in", [handled](const std::string&) mutable { ++handled; });
  t.start();
  for (int i = 0; i < 3; ++i)
    t.send("in", std::string("x"));
  EXPECT_EQ(t.counter("handled"), 3u);
}

TEST(UserCounters, TheSameNameIsTheSameValue) {
  TestNode t = worker();
  Counter a = t.node().counter("hits");
  a.add(2);
  // More names in between: the first handle stays valid (map values never move).
  for (int i = 0; i < 100; ++i)
    t.node().counter("n" + std::to_string(i));
  Counter b = t.node().counter("hits");
  ++b;
  EXPECT_EQ(a.value(), 3u);
  EXPECT_EQ(t.counter("hits"), 3u);
  Gauge g = t.node().gauge("level");
  g.set(7);
  EXPECT_EQ(t.node().gauge("level").value(), 7);
}

TEST(UserCounters, GaugesWrapAroundInsteadOfOverflowing) {
  TestNode t = worker();
  Gauge g = t.node().gauge("g");
  g.set(std::numeric_limits<std::int64_t>::max());
  g.add(1);
  EXPECT_EQ(g.value(), std::numeric_limits<std::int64_t>::min());
}

TEST(UserCounters, NamesAreChecked) {
  TestNode t = worker();
  for (const std::string& good :
       std::vector<std::string>{"a", "lines_seen", "http.requests-2xx", std::string(64, 'z')}) {
    EXPECT_NO_THROW(t.node().counter(good)) << good;
  }
  for (const std::string& bad : std::vector<std::string>{
           "", "Lines", "lines seen", "a/b", "caf\xc3\xa9", std::string(65, 'z'), "a\nb"}) {
    const std::string error = config_error([&] { t.node().counter(bad); });
    EXPECT_NE(error.find("node 'worker': counter '" + bad +
                         "' has an invalid name: use 1 to 64 "
                         "characters of a-z, 0-9, '_', '.' and '-' (e.g. \"lines_seen\")"),
              std::string::npos)
        << "'" << bad << "': " << error;
    EXPECT_FALSE(config_error([&] { t.node().gauge(bad); }).empty()) << bad;
  }
}

TEST(UserCounters, ACounterAndAGaugeCannotShareAName) {
  TestNode t = worker();
  t.node().counter("depth");
  EXPECT_EQ(config_error([&] { t.node().gauge("depth"); }),
            "node 'worker': gauge 'depth': the node already has a counter of that name, and a "
            "counter and a gauge cannot share one: rename one");
  t.node().gauge("size");
  EXPECT_NE(config_error([&] { t.node().counter("size"); }).find("already has a gauge"),
            std::string::npos);
}

TEST(UserCounters, ANodeDeclaresAtMost256) {
  TestNode t = worker();
  for (std::size_t i = 0; i < kMaxUserMetrics / 2; ++i) {
    t.node().counter("c" + std::to_string(i));
    t.node().gauge("g" + std::to_string(i));
  }
  EXPECT_NO_THROW(t.node().counter("c0")) << "an existing name is no new declaration";
  const std::string error = config_error([&] { t.node().counter("one_more"); });
  EXPECT_EQ(error,
            "node 'worker': counter 'one_more': the node already has 256 counters and gauges, the "
            "most it may report; declare each once and keep its handle, and do not make names "
            "from data (one counter per key)");
  EXPECT_FALSE(config_error([&] { t.node().gauge("one_more"); }).empty());
  EXPECT_EQ(t.counters().user_counters.size() + t.counters().user_gauges.size(), 256u);
}

TEST(UserCounters, ATestNodeRefusesANameTheNodeDidNotDeclare) {
  TestNode t = worker();
  t.node().counter("words");
  t.node().gauge("lines");
  EXPECT_EQ(config_error([&] { (void)t.counter("word"); }),
            "node 'worker' has declared no counter 'word' (counters: words; gauges: lines)");
  EXPECT_EQ(config_error([&] { (void)t.gauge("words"); }),
            "node 'worker' has declared no gauge 'words' (counters: words; gauges: lines)")
      << "a counter is not a gauge";
}

TEST(UserCounters, ANodeProcessKeepsThemInItsCounters) {
  // The engine of a real node process (no directory runs, so it never gets to run()).
  test::TempDir dir;
  NodeOptions o;
  o.topology = dir.write(
      "metrics.yaml", std::string(kTopology) + "directory: {endpoints: [\"tcp://127.0.0.1:1\"]}\n");
  o.node = "worker";
  o.handle_signals = false;
  o.log_level = LogLevel::kError;
  Node node(o);
  Counter c = node.counter("lines_seen");
  c.add(5);
  node.gauge("queue_depth").set(-3);
  EXPECT_EQ(node.counters().user_counters.at("lines_seen"), 5u);
  EXPECT_EQ(node.counters().user_gauges.at("queue_depth"), -3);
  EXPECT_FALSE(config_error([&] { node.gauge("lines_seen"); }).empty());
}

}  // namespace
}  // namespace brook
