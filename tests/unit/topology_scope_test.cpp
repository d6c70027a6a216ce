// A node's scope of its topology file (topology/scope.hpp): what brook up hands each node so that
// it parses only its part of a large topology, with the file's own line numbers in its errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <brook/params.hpp>
#include <brook/topology.hpp>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "topology/scope.hpp"

namespace brook::detail {
namespace {

// Line numbers matter here: `relay` is on line 11, its params' `rate` on line 13.
const std::string kTopology = R"(topology: scoped
directory: {endpoints: ['tcp://127.0.0.1:5999']}
channels:
  work: {dead_letter: dead}
  done: {}
  dead: {}
  other: {}
nodes:
  source: {exec: src, outputs: {out: work}}
  # a comment between entries
  relay:
    exec: relay
    params: {rate: fast}
    inputs: {in: work}
    outputs: {out: done}
  sink: {exec: sink, inputs: {in: done}}
  graveyard: {exec: sink, inputs: {in: dead}}
  lonely: {exec: src, outputs: {out: other}}
  reader: {exec: sink, inputs: {in: other}}
tracing: {sample: 0}
)";

std::vector<std::string> names(const std::vector<NodeSpec>& nodes) {
  std::vector<std::string> out;
  for (const auto& n : nodes)
    out.push_back(n.name);
  return out;
}

std::vector<std::string> names(const std::vector<ChannelSpec>& channels) {
  std::vector<std::string> out;
  for (const auto& c : channels)
    out.push_back(c.name);
  return out;
}

std::string scope_of(const std::string& text, const std::string& node) {
  const auto index = index_scope(text);
  if (!index) return {};
  const Topology t = parse_topology(text, "t.yaml");
  const auto values = scope_values(t, *index);
  const auto it = values.find(node);
  return it == values.end() ? std::string() : it->second;
}

TEST(TopologyScope, IndexesEachEntryFromItsKeyToTheNextOne) {
  const auto index = index_scope(kTopology);
  ASSERT_TRUE(index.has_value());
  EXPECT_EQ(index->hash, scope_hash(kTopology));
  EXPECT_EQ(index->channels.at("work"), (LineRange{4, 4}));
  EXPECT_EQ(index->channels.at("other"), (LineRange{7, 7}));
  EXPECT_EQ(index->nodes.at("source"), (LineRange{9, 10})) << "the comment goes with it";
  EXPECT_EQ(index->nodes.at("relay"), (LineRange{11, 15}));
  EXPECT_EQ(index->nodes.at("reader"), (LineRange{19, 19})) << "up to the next top-level key";
}

TEST(TopologyScope, ANodeKeepsItsChannelsTheirDeadLettersAndItsConsumers) {
  const std::string value = scope_of(kTopology, "relay");
  const auto scope = parse_scope(value);
  ASSERT_TRUE(scope.has_value()) << value;
  EXPECT_EQ(scope->node, "relay");
  const Topology t =
      parse_topology_text(narrow_text(kTopology, scope->blank), "t.yaml", LoadOptions{}, true);
  EXPECT_EQ(names(t.nodes), (std::vector<std::string>{"relay", "sink", "graveyard"}))
      << "relay, the reader of what it writes, the reader of its dead letters";
  EXPECT_EQ(names(t.channels), (std::vector<std::string>{"work", "done", "dead"}));
  EXPECT_EQ(t.name, "scoped");
  EXPECT_EQ(t.tracing.sample, 0.0) << "what follows the nodes stays";
  const Topology full = parse_topology(kTopology, "t.yaml");
  EXPECT_EQ(t.node("relay")->params.get<std::string>("rate"),
            full.node("relay")->params.get<std::string>("rate"));
  EXPECT_EQ(t.node("relay")->where.line, full.node("relay")->where.line);
  EXPECT_EQ(t.channel("work")->dead_letter, "dead");
}

TEST(TopologyScope, ErrorsNameTheLinesOfTheWholeFile) {
  test::TempDir dir;
  const auto file = dir.write("t.yaml", kTopology);
  const auto index = index_scope(kTopology);
  ASSERT_TRUE(index.has_value());
  const auto value = scope_values(load_topology(file), *index).at("relay");
  const Topology t = load_scoped_topology(file, "relay", value.c_str(), LoadOptions{});
  ASSERT_EQ(t.nodes.size(), 3u) << "scoped";
  try {
    (void)t.node("relay")->params.get<int>("rate");
    FAIL() << "'fast' read as an int";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(file.string() + ":13"), std::string::npos) << e.what();
  }
}

TEST(TopologyScope, AnotherFileOrNodeOrAMalformedValueReadsTheWholeFile) {
  test::TempDir dir;
  const auto file = dir.write("t.yaml", kTopology);
  const std::string value = scope_of(kTopology, "relay");
  ASSERT_FALSE(value.empty());
  EXPECT_EQ(load_scoped_topology(file, "relay", value.c_str(), {}).nodes.size(), 3u);
  EXPECT_EQ(load_scoped_topology(file, "sink", value.c_str(), {}).nodes.size(), 6u)
      << "another node's scope";
  EXPECT_EQ(load_scoped_topology(file, "relay", nullptr, {}).nodes.size(), 6u);
  EXPECT_EQ(load_scoped_topology(file, "relay", "relay:nonsense", {}).nodes.size(), 6u);
  const auto edited = dir.write("t.yaml", kTopology + "# edited since\n");
  EXPECT_EQ(load_scoped_topology(edited, "relay", value.c_str(), {}).nodes.size(), 6u)
      << "a file changed since brook up read it";
}

TEST(TopologyScope, OverridesOfWhatIsOutOfScopeAreLeftToBrookUp) {
  const std::string value = scope_of(kTopology, "relay");
  const auto scope = parse_scope(value);
  ASSERT_TRUE(scope.has_value());
  LoadOptions o;
  o.overrides = {"lonely.replicas=3", "channels.other.hwm=5", "relay.replicas=2"};
  const Topology t = parse_topology_text(narrow_text(kTopology, scope->blank), "t.yaml", o, true);
  EXPECT_EQ(t.node("relay")->replicas, 2);
  EXPECT_EQ(t.node("lonely"), nullptr);
  o.overrides = {"nosuch.replicas=3"};
  EXPECT_THROW(parse_topology(kTopology, "t.yaml", o), TopologyError)
      << "the whole file still refuses an unknown node";
}

TEST(TopologyScope, FlowSectionsAndAnchorsAreNotScoped) {
  EXPECT_FALSE(
      index_scope("topology: f\nchannels: {a: {}}\nnodes:\n  n: {exec: x, inputs: {in: a}}\n")
          .has_value());
  EXPECT_FALSE(index_scope("topology: f\nchannels:\n  a: &c {hwm: 5}\n  b: *c\nnodes:\n"
                           "  n: {exec: x, inputs: {in: a}}\n")
                   .has_value());
  EXPECT_TRUE(index_scope("topology: f\nx-defaults: &d {exec: x}\nchannels:\n  a: {}\nnodes:\n"
                          "  n: {<<: *d, inputs: {in: a}}\n")
                  .has_value())
      << "an anchor outside the two sections stays in every scope";
  EXPECT_FALSE(index_scope("{topology: f, nodes: {}}").has_value());
  EXPECT_FALSE(index_scope("topology: [").has_value());
}

TEST(TopologyScope, NarrowingKeepsEveryLineBreak) {
  EXPECT_EQ(narrow_text("a\nb\nc\nd", {{2, 3}}), "a\n\n\nd");
  EXPECT_EQ(narrow_text("a\nb\n", {{1, 1}, {2, 2}}), "\n\n");
  EXPECT_EQ(narrow_text("a\nb\n", {}), "a\nb\n");
}

TEST(TopologyScope, MalformedValuesAreRefused) {
  EXPECT_TRUE(parse_scope("n:0123456789abcdef:").has_value());
  EXPECT_TRUE(parse_scope("n:0123456789abcdef:3,5-9").has_value());
  for (const char* bad : {"", "n", ":0123456789abcdef:1", "n:0123:1", "n:0123456789abcdeg:1",
                          "n:0123456789abcdef:5-3", "n:0123456789abcdef:5,4",
                          "n:0123456789abcdef:x", "n:0123456789abcdef:1,,2"}) {
    EXPECT_FALSE(parse_scope(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace brook::detail
