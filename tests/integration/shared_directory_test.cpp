// Two topologies started against one directory: each is a scope of its own, so node and channel
// names they share neither clash nor mix their traffic.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "support/cluster.hpp"

namespace brook::test {
namespace {

std::string topology_text(const std::string& name, std::uint64_t count) {
  return "topology: " + name + R"(
directory: {endpoints: ["{DIRECTORY}"], ttl: 3s, heartbeat: 200ms}
channels:
  work: {pattern: pipeline, delivery: at-least-once}
nodes:
  source:
    exec: brook-test-source
    outputs: {out: work}
    params: {count: )" +
         std::to_string(count) + R"(}
  sink:
    exec: brook-test-sink
    inputs: {in: work}
    params: {report: "{DIR}/)" +
         name + R"(-sink.txt"}
)";
}

// Received on `channel` by instances of `node` in topology `topology`, from their heartbeats.
std::uint64_t received(Cluster& c, const std::string& topology, const std::string& node) {
  std::uint64_t sum = 0;
  try {
    for (const auto& inst : c.client().list().instances) {
      if (inst.topology != topology || inst.node != node) continue;
      auto it = inst.counters.channels.find("work");
      if (it != inst.counters.channels.end()) sum += it->second.received;
    }
  } catch (const Error&) {
    return 0;  // the directory is busy: callers poll
  }
  return sum;
}

// Before scopes, topology b's sink.0 was refused ("registered by another process") and its
// source's messages went to topology a's sink.
TEST(SharedDirectory, TwoTopologiesWithTheSameNamesKeepTheirTrafficApart) {
  constexpr std::uint64_t kA = 3000, kB = 5000;
  Cluster c;
  c.start_directory();
  c.write_topology(topology_text("ta", kA), "ta.yaml");
  auto sink_a = c.start_node("brook-test-sink", "sink");
  c.write_topology(topology_text("tb", kB), "tb.yaml");
  auto sink_b = c.start_node("brook-test-sink", "sink");
  auto source_b = c.start_node("brook-test-source", "source");
  c.write_topology(topology_text("ta", kA), "ta.yaml");
  auto source_a = c.start_node("brook-test-source", "source");

  ASSERT_EQ(source_a.wait(30s), 0) << source_a.log();
  ASSERT_EQ(source_b.wait(30s), 0) << source_b.log();
  ASSERT_TRUE(wait_for(
      [&] { return received(c, "ta", "sink") == kA && received(c, "tb", "sink") == kB; }, 20s))
      << "ta's sink: " << received(c, "ta", "sink") << ", tb's sink: " << received(c, "tb", "sink")
      << "\n"
      << sink_b.log();
  const auto instances = c.client().list().instances;
  std::multiset<std::string> names;
  for (const auto& i : instances)
    names.insert(scoped_name(i.topology, i.node));
  EXPECT_EQ(names, (std::multiset<std::string>{"ta/sink", "tb/sink"}));
  ASSERT_EQ(sink_a.stop(), 0) << sink_a.log();
  ASSERT_EQ(sink_b.stop(), 0) << sink_b.log();

  for (const auto& [name, count] : std::map<std::string, std::uint64_t>{{"ta", kA}, {"tb", kB}}) {
    const SinkReport r = read_report(c.dir() / (name + "-sink.txt"));
    ASSERT_TRUE(r.complete) << name;
    std::map<std::uint64_t, int> seen;
    for (const auto& m : r.messages)
      ++seen[m.n];
    EXPECT_EQ(r.messages.size(), count) << name << "'s sink got another topology's messages";
    EXPECT_EQ(seen.size(), count) << name;
    EXPECT_EQ(seen.rbegin()->first, count) << name;
  }
}

}  // namespace
}  // namespace brook::test
