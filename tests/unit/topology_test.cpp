// Topology files: loading, defaults, queries, value parsing and every validation error.
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <brook/params.hpp>
#include <brook/topology.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace brook {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

const std::string kFixtures = std::string(BROOK_SOURCE_DIR) + "/tests/fixtures/topology/";

// An environment with nothing in it (not even PATH), so that results do not depend on the machine.
LoadOptions isolated(std::map<std::string, std::string> vars = {}) {
  LoadOptions o;
  o.env = [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  return o;
}

std::string strip_dir(std::string s) {
  for (std::size_t at; (at = s.find(kFixtures)) != std::string::npos;)
    s.erase(at, kFixtures.size());
  return s;
}

std::vector<std::string> rendered(const std::vector<Diagnostic>& diagnostics) {
  std::vector<std::string> out;
  for (const auto& d : diagnostics)
    out.push_back(strip_dir(d.str()));
  return out;
}

// Rendered errors of a load that must fail; fixture paths are shortened to the file name.
std::vector<std::string> errors_of(const std::string& fixture, const LoadOptions& o = isolated()) {
  try {
    load_topology(kFixtures + fixture, o);
  } catch (const TopologyError& e) {
    return rendered(e.diagnostics());
  }
  ADD_FAILURE() << fixture << " loaded without errors";
  return {};
}

std::vector<std::string> errors_in(const std::string& text, const LoadOptions& o = isolated()) {
  try {
    parse_topology(text, "t.yaml", o);
  } catch (const TopologyError& e) {
    return rendered(e.diagnostics());
  }
  ADD_FAILURE() << "parsed without errors:\n" << text;
  return {};
}

// Warnings other than the exec look-ups, which depend on what is installed.
std::vector<std::string> channel_warnings(const Topology& t) {
  std::vector<std::string> out;
  for (const auto& w : t.warnings) {
    if (w.message.rfind("exec ", 0) != 0) out.push_back(strip_dir(w.str()));
  }
  return out;
}

std::vector<std::string> names(const std::vector<const NodeSpec*>& nodes) {
  std::vector<std::string> out;
  for (const auto* n : nodes)
    out.push_back(n->name);
  return out;
}

// A two-node topology with a placeholder the test fills in.
std::string pair_with(const std::string& basket_extra) {
  return "topology: t\n"
         "channels: {orders: {}}\n"
         "nodes:\n"
         "  basket:\n"
         "    exec: brook-basket\n"
         "    outputs: [orders]\n" +
         basket_extra +
         "  billing:\n"
         "    exec: brook-billing\n"
         "    inputs: [orders]\n";
}

TEST(TopologyLoad, ReadsEveryKey) {
  const Topology t = load_topology(kFixtures + "good_shop.yaml", isolated());
  EXPECT_EQ(t.name, "shop");
  EXPECT_EQ(t.file, fs::path(kFixtures + "good_shop.yaml"));
  EXPECT_EQ(t.directory.endpoints,
            (std::vector<std::string>{"tcp://127.0.0.1:6000", "ipc:///tmp/shop-directory"}));
  EXPECT_EQ(t.directory.ttl, milliseconds(5000));
  EXPECT_EQ(t.directory.heartbeat, milliseconds(500));
  EXPECT_TRUE(t.directory.external);

  ASSERT_EQ(t.channels.size(), 4u);
  const ChannelSpec& c = t.channels[1];
  EXPECT_EQ(c.name, "checkouts");
  EXPECT_EQ(c.pattern, Pattern::kPipeline);
  EXPECT_EQ(c.max_message_size, 64u * 1024);
  EXPECT_EQ(c.hwm, 50);
  EXPECT_EQ(c.max_pending, 200u);
  EXPECT_EQ(c.on_full, OnFull::kDrop);
  EXPECT_EQ(c.block_timeout, milliseconds(250));
  EXPECT_FALSE(c.external);
  EXPECT_EQ(c.where.str(), kFixtures + "good_shop.yaml:11:3");
  EXPECT_TRUE(t.channel("carts")->external);
  EXPECT_EQ(t.channel("prices")->pattern, Pattern::kPubsub);
  EXPECT_EQ(t.channel("prices")->on_full, OnFull::kFail);

  const NodeSpec* b = t.node("basket");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->exec, "bin/brook-basket");
  EXPECT_EQ(b->args, (std::vector<std::string>{"--verbose", "-n", "3"}));
  EXPECT_EQ(b->replicas, 2);
  EXPECT_FALSE(b->job);
  EXPECT_EQ(b->params.get<std::string>("tax.region"), "eu");
  EXPECT_EQ(b->params.keys(), (std::vector<std::string>{"tax", "batch"}));
  EXPECT_EQ(b->params.origin(), kFixtures + "good_shop.yaml: nodes.basket.params");
  EXPECT_EQ(b->env, (std::map<std::string, std::string>{{"LOG_FORMAT", "json"}, {"RETRIES", "3"}}));
  EXPECT_EQ(b->restart.policy, RestartPolicy::kAlways);
  EXPECT_EQ(b->restart.max_restarts, 3);
  EXPECT_EQ(b->restart.window, milliseconds(30000));
  EXPECT_EQ(b->restart.backoff_initial, milliseconds(50));
  EXPECT_EQ(b->restart.backoff_max, milliseconds(2000));
  EXPECT_EQ(b->ready_timeout, milliseconds(10000));
  EXPECT_EQ(b->drain_timeout, milliseconds(60000));
  EXPECT_EQ(b->where.str(), kFixtures + "good_shop.yaml:23:3");
  EXPECT_EQ(t.node("pricing")->restart.policy, RestartPolicy::kNever);
  EXPECT_TRUE(t.node("billing")->job);
}

TEST(TopologyLoad, AppliesDefaults) {
  const Topology t = load_topology(kFixtures + "good_defaults.yaml", isolated());
  EXPECT_EQ(t.directory.endpoints, std::vector<std::string>{"tcp://127.0.0.1:5670"});
  EXPECT_EQ(t.directory.ttl, milliseconds(3000));
  EXPECT_EQ(t.directory.heartbeat, milliseconds(1000));
  EXPECT_FALSE(t.directory.external);
  for (const auto& c : t.channels) {  // one written as null, one as {}
    EXPECT_EQ(c.pattern, Pattern::kPipeline);
    EXPECT_EQ(c.max_message_size, 1024u * 1024);
    EXPECT_EQ(c.hwm, 1000);
    EXPECT_EQ(c.max_pending, 10000u);
    EXPECT_EQ(c.on_full, OnFull::kBlock);
    EXPECT_EQ(c.block_timeout, milliseconds(1000));
    EXPECT_FALSE(c.external);
  }
  const NodeSpec* w = t.node("worker");
  ASSERT_NE(w, nullptr);
  EXPECT_TRUE(w->args.empty());
  EXPECT_EQ(w->replicas, 1);
  EXPECT_FALSE(w->job);
  EXPECT_TRUE(w->params.empty());
  EXPECT_EQ(w->params.origin(), kFixtures + "good_defaults.yaml: nodes.worker.params");
  EXPECT_TRUE(w->env.empty());
  EXPECT_EQ(w->restart.policy, RestartPolicy::kOnFailure);
  EXPECT_EQ(w->restart.max_restarts, 10);
  EXPECT_EQ(w->restart.window, milliseconds(60000));
  EXPECT_EQ(w->restart.backoff_initial, milliseconds(100));
  EXPECT_EQ(w->restart.backoff_max, milliseconds(5000));
  EXPECT_EQ(w->ready_timeout, milliseconds(5000));
  EXPECT_EQ(w->drain_timeout, milliseconds(2000));
  EXPECT_TRUE(channel_warnings(t).empty());
}

TEST(TopologyLoad, BothPortFormsMapPortsToChannels) {
  const Topology t = load_topology(kFixtures + "good_shop.yaml", isolated());
  const NodeSpec* basket = t.node("basket");
  ASSERT_NE(basket->input("carts"), nullptr);  // list form: port name = channel name
  EXPECT_EQ(basket->input("carts")->channel, "carts");
  EXPECT_EQ(basket->input("carts")->where.str(), kFixtures + "good_shop.yaml:27:14");
  EXPECT_EQ(basket->output("checkouts")->channel, "checkouts");  // map form
  const NodeSpec* billing = t.node("billing");                   // list items as maps
  EXPECT_EQ(billing->input("orders")->channel, "checkouts");
  EXPECT_EQ(billing->input("price_feed")->channel, "prices");
  EXPECT_EQ(billing->input("checkouts"), nullptr);
  EXPECT_EQ(t.node("pricing")->output("quotes")->channel, "prices");
  const NodeSpec* auditor = t.node("auditor");  // one port name, used in both directions
  EXPECT_EQ(auditor->input("audit")->channel, "checkouts");
  EXPECT_EQ(auditor->output("audit")->channel, "audit");
  EXPECT_EQ(auditor->output("missing"), nullptr);
}

TEST(TopologyLoad, ConsumersAndProducersInFileOrder) {
  const Topology t = load_topology(kFixtures + "good_shop.yaml", isolated());
  EXPECT_EQ(names(t.consumers("checkouts")), (std::vector<std::string>{"billing", "auditor"}));
  EXPECT_EQ(names(t.producers("checkouts")), std::vector<std::string>{"basket"});
  EXPECT_EQ(names(t.consumers("prices")), std::vector<std::string>{"billing"});
  EXPECT_EQ(names(t.producers("prices")), std::vector<std::string>{"pricing"});
  EXPECT_TRUE(t.producers("carts").empty());
  EXPECT_TRUE(t.consumers("nope").empty());
  EXPECT_EQ(t.channel("nope"), nullptr);
  EXPECT_EQ(t.node("nope"), nullptr);
}

TEST(TopologyLoad, NodeReadingAChannelTwiceIsListedOnce) {
  const Topology t = parse_topology(
      "topology: t\nchannels: {a: {external: true}}\n"
      "nodes: {n: {exec: x, inputs: {one: a, two: a}}}\n",
      "t.yaml", isolated());
  EXPECT_EQ(names(t.consumers("a")), std::vector<std::string>{"n"});
  EXPECT_TRUE(t.file.empty());
}

TEST(TopologyLoad, MinimalExampleIsValid) {
  const Topology t = load_topology(std::string(BROOK_SOURCE_DIR) + "/topologies/minimal.yaml");
  EXPECT_EQ(t.name, "minimal");
  EXPECT_EQ(t.node("ticker")->exec, "brook-example-ticker");
  EXPECT_EQ(t.node("printer")->exec, "brook-example-printer");
  EXPECT_EQ(names(t.producers("ticks")), std::vector<std::string>{"ticker"});
  EXPECT_EQ(names(t.consumers("ticks")), std::vector<std::string>{"printer"});
  EXPECT_TRUE(channel_warnings(t).empty());
}

TEST(TopologyLoad, WarnsAboutChannelsThatGoNowhere) {
  const Topology t = load_topology(kFixtures + "warn_channels.yaml", isolated());
  EXPECT_EQ(channel_warnings(t),
            (std::vector<std::string>{
                "warn_channels.yaml:3:3: warning: channel 'unused' is not used by any node (hint: "
                "remove it, or add it to a node's inputs or outputs)",
                "warn_channels.yaml:4:3: warning: channel 'held' is written but no node reads it; "
                "messages would be held (hint: add it to some node's inputs)",
                "warn_channels.yaml:5:3: warning: pubsub channel 'news' has no subscribers; "
                "published messages are dropped (hint: add it to some node's inputs)"}));
}

// brook check prints what a TopologyError carries: the warnings found next to the errors must
// be there, or a user fixing the errors meets them only on the next run.
TEST(TopologyLoad, AnErrorCarriesTheWarningsFoundWithIt) {
  try {
    parse_topology(
        "topology: t\nchannels: {ticks: {}, idle: {}}\nnodes:\n"
        "  n: {exec: /bin/true, outputs: {out: ticks}, inputs: {in: tick}}\n",
        "t.yaml", isolated());
    ADD_FAILURE() << "parsed without errors";
  } catch (const TopologyError& e) {
    ASSERT_EQ(e.diagnostics().size(), 1u);
    EXPECT_NE(e.diagnostics()[0].message.find("undeclared channel 'tick'"), std::string::npos);
    EXPECT_EQ(rendered(e.warnings()),
              (std::vector<std::string>{
                  "t.yaml:2:12: warning: channel 'ticks' is written but no node reads it; "
                  "messages would be held (hint: add it to some node's inputs)",
                  "t.yaml:2:23: warning: channel 'idle' is not used by any node (hint: remove it, "
                  "or add it to a node's inputs or outputs)"}));
    EXPECT_EQ(std::string(e.what()).find("warning"), std::string::npos) << "what() is the errors";
  }
}

TEST(TopologyLoad, UnreadableFileIsAnErrorButNotATopologyError) {
  try {
    load_topology(kFixtures + "does_not_exist.yaml");
    FAIL() << "expected an exception";
  } catch (const TopologyError&) {
    FAIL() << "a missing file has no diagnostics";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot read topology file"), std::string::npos);
  }
}

TEST(TopologyLoad, RefusesFilesOverTheSizeLimit) {
  LoadOptions o = isolated();
  o.max_file_size = 16;
  EXPECT_THROW(load_topology(kFixtures + "good_shop.yaml", o), Error);
  EXPECT_THROW(parse_topology(std::string(17, '#'), "t.yaml", o), Error);
}

TEST(TopologyValues, DurationsParse) {
  const std::vector<std::pair<std::string, long long>> good = {
      {"0", 0},      {"250", 250},    {"250ms", 250}, {"3s", 3000},
      {"1m", 60000}, {"1h", 3600000}, {"0s", 0},      {"90s", 90000}};
  for (const auto& [text, ms] : good) {
    auto d = parse_duration(text);
    ASSERT_TRUE(d.has_value()) << text;
    EXPECT_EQ(d->count(), ms) << text;
  }
  for (std::string bad : {"", "s", "-1s", "+1s", "1.5s", "1 s", "3sec", "1d", "ms", "3S", " 3s",
                          "99999999999999999999", "9223372036854775807s"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
}

TEST(TopologyValues, SizesParse) {
  const std::vector<std::pair<std::string, std::size_t>> good = {
      {"0", 0},         {"512", 512},      {"512B", 512},
      {"64KiB", 65536}, {"1MiB", 1048576}, {"2GiB", 2147483648u},
      {"1KB", 1000},    {"3MB", 3000000},  {"1GB", 1000000000},
      {"4Ki", 4096},    {"5M", 5000000}};
  for (const auto& [text, bytes] : good) {
    auto s = parse_size(text);
    ASSERT_TRUE(s.has_value()) << text;
    EXPECT_EQ(*s, bytes) << text;
  }
  for (std::string bad : {"", "MiB", "-1", "1.5MiB", "1 MiB", "1mib", "1TiB", "1iB", "12x",
                          "18446744073709551616", "17179869184GiB"}) {
    EXPECT_FALSE(parse_size(bad).has_value()) << bad;
  }
}

TEST(TopologyValues, EnumsRoundTrip) {
  EXPECT_EQ(to_string(Pattern::kPipeline), "pipeline");
  EXPECT_EQ(to_string(Pattern::kPubsub), "pubsub");
  EXPECT_EQ(parse_pattern("pubsub"), Pattern::kPubsub);
  EXPECT_EQ(parse_pattern("pipeline"), Pattern::kPipeline);
  EXPECT_FALSE(parse_pattern("PubSub").has_value());
  EXPECT_EQ(to_string(RestartPolicy::kNever), "never");
  EXPECT_EQ(to_string(RestartPolicy::kOnFailure), "on-failure");
  EXPECT_EQ(to_string(RestartPolicy::kAlways), "always");
  EXPECT_EQ(to_string(OnFull::kBlock), "block");
  EXPECT_EQ(to_string(OnFull::kDrop), "drop");
  EXPECT_EQ(to_string(OnFull::kFail), "fail");
}

TEST(TopologyDiagnostics, RenderWithAndWithoutHint) {
  Diagnostic d{Diagnostic::Severity::kError, {"shop.yaml", 3, 7}, "bad thing", "fix it"};
  EXPECT_EQ(d.str(), "shop.yaml:3:7: error: bad thing (hint: fix it)");
  d.hint.clear();
  d.severity = Diagnostic::Severity::kWarning;
  EXPECT_EQ(d.str(), "shop.yaml:3:7: warning: bad thing");
  EXPECT_EQ((SourceLocation{"--set a=1", 0, 0}).str(), "--set a=1");
  const TopologyError e({Diagnostic{Diagnostic::Severity::kError, {"a.yaml", 1, 2}, "one", ""},
                         Diagnostic{Diagnostic::Severity::kError, {"a.yaml", 3, 4}, "two", "h"}});
  EXPECT_STREQ(e.what(), "a.yaml:1:2: error: one\na.yaml:3:4: error: two (hint: h)");
  EXPECT_EQ(e.diagnostics().size(), 2u);
}

// The duplicate-name checks rely on this: yaml-cpp 0.7 keeps every entry of a map with a
// repeated key when iterating (lookup by key finds the first).
TEST(TopologyYamlCpp, KeepsDuplicateKeysWhenIterating) {
  const YAML::Node n = YAML::Load("a: 1\nb: 2\na: 3\n");
  std::vector<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    seen.push_back(it->first.Scalar() + "=" + it->second.Scalar());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a=1", "b=2", "a=3"}));
}

// --- one fixture per kind of error -------------------------------------------------------------

TEST(TopologyErrors, YamlSyntaxErrorIsLocated) {
  EXPECT_EQ(errors_of("bad_syntax.yaml"),
            std::vector<std::string>{
                "bad_syntax.yaml:4:6: error: invalid YAML: end of map flow not found (hint: check "
                "indentation, quoting and brackets at or just before this position)"});
}

// Unquoted, the '{' of ${...} opens a YAML map inside a flow collection: the parser's message is
// about brackets, so the hint names the cause.
TEST(TopologyErrors, AnUnquotedSubstitutionInAFlowMapGetsASpecificHint) {
  const std::string text =
      "topology: t\nchannels:\n  c: {pattern: pipeline}\nnodes:\n"
      "  a: {exec: x, outputs: [c], params: {n: ${N:-3}}}\n  b: {exec: y, inputs: [c]}\n";
  const auto errors = errors_in(text);
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_NE(errors[0].find("t.yaml:5:"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("hint: quote a ${VAR} inside {...} or [...], e.g. {n: \"${N:-3}\"}"),
            std::string::npos)
      << errors[0];
  // Quoted, it parses.
  std::string quoted = text;
  quoted.replace(quoted.find("${N:-3}"), 7, "\"${N:-3}\"");
  EXPECT_NO_THROW(parse_topology(quoted, "t.yaml", isolated()));
}

TEST(TopologyErrors, UnknownKeysSuggestTheClosestKey) {
  EXPECT_EQ(
      errors_of("bad_unknown_key.yaml"),
      (std::vector<std::string>{
          "bad_unknown_key.yaml:2:1: error: unknown key 'channel' at the top level (hint: "
          "did you mean 'channels'?)",
          "bad_unknown_key.yaml:5:12: error: unknown key 'patern' in channel 'orders' (hint: "
          "did you mean 'pattern'?)",
          "bad_unknown_key.yaml:9:5: error: unknown key 'replica' in node 'basket' (hint: did "
          "you mean 'replicas'?)",
          "bad_unknown_key.yaml:10:5: error: unknown key 'colour' in node 'basket' (hint: "
          "allowed keys: exec, args, replicas, job, inputs, outputs, params, env, restart, "
          "ready_timeout, drain_timeout, host)",
          "bad_unknown_key.yaml:12:31: error: unknown key 'backof' in restart of node "
          "'basket' (hint: did you mean 'backoff'?)",
          "bad_unknown_key.yaml:16:9: error: missing required key 'channel' in an input of "
          "node 'reader' (hint: e.g. {port: input, channel: orders})",
          "bad_unknown_key.yaml:16:20: error: unknown key 'chanel' in an input of node "
          "'reader' (hint: did you mean 'channel'?)"}));
}

TEST(TopologyErrors, BadTypesAreAllReported) {
  const std::string kDuration =
      " (hint: write e.g. 250ms, 3s, 1m or 1h; a bare number is milliseconds)";
  EXPECT_EQ(
      errors_of("bad_types.yaml"),
      (std::vector<std::string>{
          "bad_types.yaml:3:8: error: ttl: expected a duration, got 'forever'" + kDuration,
          "bad_types.yaml:4:13: error: external: expected true or false, got 'yes'",
          "bad_types.yaml:7:14: error: pattern: unknown value 'fanout' (hint: allowed values: "
          "pipeline, pubsub, request)",
          "bad_types.yaml:8:23: error: max_message_size: expected a size, got 'big' (hint: write "
          "e.g. 65536, 64KiB or 1MiB (KiB/MiB/GiB are 1024-based, KB/MB/GB 1000-based))",
          "bad_types.yaml:9:10: error: hwm: expected an integer >= 1, got a list",
          "bad_types.yaml:10:14: error: on_full: unknown value 'wait' (hint: allowed values: "
          "block, "
          "drop, fail)",
          "bad_types.yaml:11:20: error: block_timeout: expected a duration, got '1.5s'" + kDuration,
          "bad_types.yaml:14:11: error: exec: expected a string, got a map",
          "bad_types.yaml:15:11: error: args: expected a list of strings, got '--verbose'",
          "bad_types.yaml:16:15: error: replicas: expected an integer >= 1, got 'two'",
          "bad_types.yaml:17:10: error: job: expected true or false, got '1'",
          "bad_types.yaml:18:14: error: outputs: expected a list of channel names or a map port: "
          "channel, got 'orders' (hint: e.g. outputs: [orders] or outputs: {port: channel})",
          "bad_types.yaml:19:13: error: params: expected a map, got a list",
          "bad_types.yaml:20:14: error: env.A: expected a string, got a list",
          "bad_types.yaml:21:14: error: restart: unknown value 'sometimes' (hint: allowed values: "
          "never, on-failure, always)",
          "bad_types.yaml:22:20: error: ready_timeout: expected a duration, got '-5s'" +
              kDuration}));
}

TEST(TopologyErrors, MissingRequiredKeysAreReportedAtTheEnclosingMap) {
  EXPECT_EQ(errors_of("bad_missing_keys.yaml"),
            (std::vector<std::string>{
                "bad_missing_keys.yaml:2:1: error: missing required key 'topology' at the top "
                "level (hint: name the topology, e.g. topology: shop)",
                "bad_missing_keys.yaml:2:1: error: missing required key 'channels' at the top "
                "level (hint: declare the channels under channels:)",
                "bad_missing_keys.yaml:4:5: error: missing required key 'exec' in node 'basket' "
                "(hint: name the program to run, e.g. exec: brook-basket)",
                "bad_missing_keys.yaml:5:3: error: missing required key 'exec' in node 'empty' "
                "(hint: name the program to run, e.g. exec: brook-empty)"}));
  EXPECT_EQ(errors_in("topology: t\nchannels: {}\n"),
            std::vector<std::string>{"t.yaml:1:1: error: missing required key 'nodes' at the top "
                                     "level (hint: declare the nodes under nodes:)"});
}

TEST(TopologyErrors, UndeclaredChannelsAreReportedAtThePort) {
  EXPECT_EQ(errors_of("bad_undeclared_channel.yaml"),
            (std::vector<std::string>{
                "bad_undeclared_channel.yaml:8:15: error: output 'order' of node 'basket' uses "
                "undeclared channel 'order' (hint: did you mean 'orders'?)",
                "bad_undeclared_channel.yaml:11:18: error: input 'in' of node 'billing' reads "
                "pipeline channel 'orders', which no node writes (hint: add an output to some "
                "node or mark the channel external: true)",
                "bad_undeclared_channel.yaml:12:20: error: output 'out' of node 'billing' uses "
                "undeclared channel 'payments' (hint: declared channels: orders, invoices)"}));
}

TEST(TopologyErrors, DuplicateNamesAreReportedWithTheFirstDeclaration) {
  EXPECT_EQ(errors_of("bad_duplicates.yaml"),
            (std::vector<std::string>{
                "bad_duplicates.yaml:5:3: error: duplicate channel 'orders' (hint: first declared "
                "at bad_duplicates.yaml:3:3)",
                "bad_duplicates.yaml:10:5: error: duplicate key 'replicas' in node 'basket' "
                "(hint: first set at bad_duplicates.yaml:9:5)",
                "bad_duplicates.yaml:11:29: error: duplicate input port 'events' in node 'basket' "
                "(hint: first declared at bad_duplicates.yaml:11:14)",
                "bad_duplicates.yaml:13:3: error: duplicate node 'basket' (hint: first declared "
                "at bad_duplicates.yaml:7:3)",
                "bad_duplicates.yaml:17:30: error: duplicate input port 'orders' in node "
                "'billing' (hint: first declared at bad_duplicates.yaml:17:14)"}));
}

TEST(TopologyErrors, ReplicasMustBeAtLeastOne) {
  EXPECT_EQ(errors_of("bad_replicas.yaml"),
            (std::vector<std::string>{"bad_replicas.yaml:7:15: error: replicas must be >= 1",
                                      "bad_replicas.yaml:11:15: error: replicas must be >= 1"}));
}

TEST(TopologyErrors, PipelineChannelsMustBeFed) {
  EXPECT_EQ(errors_of("bad_unfed_channel.yaml"),
            (std::vector<std::string>{
                "bad_unfed_channel.yaml:9:14: error: input 'orders' of node 'basket' reads "
                "pipeline channel 'orders', which no node writes (hint: add an output to some "
                "node or mark the channel external: true)",
                "bad_unfed_channel.yaml:12:24: error: input 'incoming' of node 'billing' reads "
                "pipeline channel 'orders', which no node writes (hint: add an output to some "
                "node or mark the channel external: true)"}));
}

TEST(TopologyErrors, PortPatternMustMatchTheChannel) {
  EXPECT_EQ(errors_of("bad_pattern_mismatch.yaml"),
            (std::vector<std::string>{
                "bad_pattern_mismatch.yaml:9:50: error: output 'quotes' of node 'pricing' expects "
                "a pipeline channel, but channel 'prices' is pubsub (hint: change the port's "
                "pattern, or the channel's pattern at bad_pattern_mismatch.yaml:4:3)",
                "bad_pattern_mismatch.yaml:14:36: error: input 'orders' of node 'basket' expects "
                "a pubsub channel, but channel 'orders' is pipeline (hint: change the port's "
                "pattern, or the channel's pattern at bad_pattern_mismatch.yaml:3:3)"}));
}

TEST(TopologyErrors, NamesMustBeIdentifiersWithoutDots) {
  const std::string kRule =
      " (hint: names match [A-Za-z][A-Za-z0-9_-]{0,63}: a letter, then letters, digits, '_' or "
      "'-')";
  EXPECT_EQ(
      errors_of("bad_names.yaml"),
      (std::vector<std::string>{
          "bad_names.yaml:1:11: error: invalid topology name '9shop'" + kRule,
          "bad_names.yaml:3:3: error: invalid channel name 'orders.eu'" + kRule,
          "bad_names.yaml:6:3: error: invalid node name 'basket.v2'" + kRule,
          "bad_names.yaml:8:15: error: invalid port name 'out.port' in node 'basket.v2'" + kRule,
          "bad_names.yaml:9:3: error: invalid node name '_reader'" + kRule}));
  EXPECT_EQ(errors_in("topology: " + std::string(65, 'a') + "\nchannels: {}\nnodes: {}\n").size(),
            1u);
  EXPECT_NO_THROW(parse_topology(
      "topology: " + std::string(64, 'a') + "\nchannels: {}\nnodes: {}\n", "t.yaml", isolated()));
}

TEST(TopologyErrors, DirectoryEndpointsAndTimes) {
  const std::string kHint = " (hint: use tcp://host:port (port 1-65535) or ipc://path)";
  EXPECT_EQ(
      errors_of("bad_directory.yaml"),
      (std::vector<std::string>{
          "bad_directory.yaml:3:15: error: invalid directory endpoint 'tcp://127.0.0.1'" + kHint,
          "bad_directory.yaml:3:32: error: invalid directory endpoint 'tcp://host:70000'" + kHint,
          "bad_directory.yaml:3:52: error: invalid directory endpoint 'udp://x:1'" + kHint,
          "bad_directory.yaml:3:63: error: invalid directory endpoint 'ipc://'" + kHint,
          "bad_directory.yaml:5:14: error: heartbeat (1s) must be shorter than ttl (1s) "
          "(hint: a lease expires when no heartbeat arrives within ttl; e.g. ttl: 3s, "
          "heartbeat: 1s)"}));
}

TEST(TopologyErrors, DirectoryHttpIsAnAddressAndPort) {
  const auto parsed = [](const std::string& http) {
    return parse_topology(
               "topology: t\ndirectory: {http: '" + http + "'}\nchannels: {}\nnodes: {}\n",
               "t.yaml", isolated())
        .directory.http;
  };
  EXPECT_EQ(parsed("127.0.0.1:9464"), "127.0.0.1:9464");
  EXPECT_EQ(parsed("9464"), "127.0.0.1:9464") << "loopback unless an address is given";
  EXPECT_EQ(parsed("[::1]:0"), "[::1]:0");
  EXPECT_EQ(
      parse_topology("topology: t\nchannels: {}\nnodes: {}\n", "t.yaml", isolated()).directory.http,
      "")
      << "off by default";
  EXPECT_EQ(
      errors_in("topology: t\ndirectory:\n  http: 127.0.0.1:70000\nchannels: {}\nnodes: {}\n"),
      std::vector<std::string>{
          "t.yaml:3:9: error: directory.http: port '70000' is not a number from 0 to 65535 "
          "(hint: write ADDRESS:PORT, e.g. 127.0.0.1:9464 (port 0 picks a free one); "
          "0.0.0.0:9464 serves every interface)"});
  EXPECT_EQ(errors_in("topology: t\ndirectory: {htp: 1}\nchannels: {}\nnodes: {}\n"),
            std::vector<std::string>{"t.yaml:2:13: error: unknown key 'htp' in directory (hint: "
                                     "did you mean 'http'?)"});
}

TEST(TopologyErrors, DirectoryEndpointsMayBeASingleString) {
  const Topology t = parse_topology(
      "topology: t\ndirectory: {endpoints: 'tcp://10.0.0.1:7000'}\nchannels: {}\nnodes: {}\n",
      "t.yaml", isolated());
  EXPECT_EQ(t.directory.endpoints, std::vector<std::string>{"tcp://10.0.0.1:7000"});
}

TEST(TopologyErrors, MessageSizeMustBeInRange) {
  EXPECT_EQ(errors_of("bad_message_size.yaml"),
            (std::vector<std::string>{
                "bad_message_size.yaml:3:28: error: max_message_size must be between 256 bytes "
                "and 256MiB, got 100 bytes",
                "bad_message_size.yaml:4:28: error: max_message_size must be between 256 bytes "
                "and 256MiB, got 1GiB"}));
}

TEST(TopologyErrors, WholeFileShapes) {
  EXPECT_EQ(errors_in(""), std::vector<std::string>{"t.yaml: error: the file is empty (hint: a "
                                                    "topology needs at least topology:, channels: "
                                                    "and nodes:)"});
  EXPECT_EQ(errors_in("- a\n- b\n"),
            std::vector<std::string>{"t.yaml:1:1: error: expected a map at the top level, got a "
                                     "list (hint: a topology file starts with topology: <name>)"});
  EXPECT_EQ(errors_in("topology: t\nchannels: {}\nnodes: {}\n---\ntopology: u\n"),
            std::vector<std::string>{"t.yaml:5:1: error: expected one YAML document, found 2 "
                                     "(hint: remove the '---' separators; a file holds one "
                                     "topology)"});
}

TEST(TopologyErrors, RestartBackoffMustNotExceedItsMax) {
  EXPECT_EQ(errors_in(pair_with("    restart: {backoff: {initial: 10s}}\n")),
            std::vector<std::string>{
                "t.yaml:7:34: error: restart.backoff.initial (10s) must not exceed "
                "restart.backoff.max (5s) (hint: the delay starts at initial and doubles up to "
                "max)"});
}

// --- ${...} substitution ------------------------------------------------------------------------

TEST(TopologySubstitution, ReplacesVariablesDefaultsAndEscapes) {
  const Topology t = parse_topology(pair_with("    args: ['${A}', '${B:-dflt}', '${EMPTY:-dflt}', "
                                              "'x${A}y${A}z', 'cost $$5', '$HOME', '${EMPTY}']\n"),
                                    "t.yaml", isolated({{"A", "aa"}, {"EMPTY", ""}}));
  EXPECT_EQ(t.node("basket")->args,
            (std::vector<std::string>{"aa", "dflt", "dflt", "xaayaaz", "cost $5", "$HOME", ""}));
}

TEST(TopologySubstitution, ValuesAreInterpretedAfterSubstitution) {
  const Topology t = parse_topology(
      pair_with("    replicas: ${N:-2}\n    job: ${JOB}\n"
                "    params: {rate: '${RATE}', '${KEY}': 1}\n    env: {X: '${X}'}\n"),
      "t.yaml", isolated({{"JOB", "true"}, {"RATE", "0.5"}, {"X", "ex"}}));
  const NodeSpec* n = t.node("basket");
  EXPECT_EQ(n->replicas, 2);
  EXPECT_TRUE(n->job);
  EXPECT_EQ(n->params.get<double>("rate"), 0.5);
  EXPECT_TRUE(n->params.has("${KEY}")) << "keys are not substituted";
  EXPECT_EQ(n->env.at("X"), "ex");
}

TEST(TopologySubstitution, UnsetVariablesAndMalformedReferencesAreErrors) {
  const std::string kSyntax = " (hint: write ${NAME}, ${NAME:-default}, or $$ for a literal $)";
  EXPECT_EQ(
      errors_of("bad_substitution.yaml", isolated({{"FLAVOUR", "x"}})),
      (std::vector<std::string>{
          "bad_substitution.yaml:1:11: error: environment variable TOPOLOGY_NAME is not set "
          "(hint: export TOPOLOGY_NAME=... or write ${TOPOLOGY_NAME:-default})",
          "bad_substitution.yaml:7:15: error: replicas: expected an integer >= 1, got 'two'",
          "bad_substitution.yaml:8:12: error: malformed substitution in '${}': empty variable "
          "name" +
              kSyntax,
          "bad_substitution.yaml:8:19: error: malformed substitution in '${bad-name}': invalid "
          "variable name 'bad-name'" +
              kSyntax,
          "bad_substitution.yaml:8:34: error: malformed substitution in '${OPEN': '${' without a "
          "closing '}'" +
              kSyntax,
          "bad_substitution.yaml:12:14: error: environment variable MISSING_CHANNEL is not set "
          "(hint: export MISSING_CHANNEL=... or write ${MISSING_CHANNEL:-default})"}));
}

TEST(TopologySubstitution, UsesTheProcessEnvironmentByDefault) {
  // PATH is set in any test environment; the default lookup must see it.
  const Topology t = parse_topology(pair_with("    env: {P: '${PATH}'}\n"), "t.yaml");
  EXPECT_EQ(t.node("basket")->env.at("P"), std::getenv("PATH"));
}

// --- overrides ---------------------------------------------------------------------------------

Topology with_overrides(std::vector<std::string> overrides,
                        std::map<std::string, std::string> env = {}) {
  LoadOptions o = isolated(std::move(env));
  o.overrides = std::move(overrides);
  return load_topology(kFixtures + "good_shop.yaml", o);
}

std::vector<std::string> override_errors(std::vector<std::string> overrides) {
  LoadOptions o = isolated();
  o.overrides = std::move(overrides);
  return errors_of("good_shop.yaml", o);
}

TEST(TopologyOverrides, NodeShorthandAndAbsolutePaths) {
  const Topology t =
      with_overrides({"basket.replicas=3", "nodes.billing.job=false", "channels.checkouts.hwm=7",
                      "directory.ttl=10s", "topology=shop2", "pricing.restart=always"});
  EXPECT_EQ(t.node("basket")->replicas, 3);
  EXPECT_FALSE(t.node("billing")->job);
  EXPECT_EQ(t.channel("checkouts")->hwm, 7);
  EXPECT_EQ(t.directory.ttl, milliseconds(10000));
  EXPECT_EQ(t.name, "shop2");
  EXPECT_EQ(t.node("pricing")->restart.policy, RestartPolicy::kAlways);
}

TEST(TopologyOverrides, CreateParamsKeysAndInterpretValuesAsYaml) {
  const Topology t = with_overrides(
      {"basket.params.rate=5", "basket.params.tax.rate=0.3", "auditor.params.limits.daily.max=100",
       "basket.params.name=x", "basket.params.list=[a, b]",
       "basket.params.empty=", "basket.args=[-q]", "archive.env.MODE=fast"});
  const Params& p = t.node("basket")->params;
  EXPECT_EQ(p.get<int>("rate"), 5);
  EXPECT_EQ(p.get<double>("tax.rate"), 0.3);
  EXPECT_EQ(p.get<std::string>("tax.region"), "eu") << "siblings in the file are kept";
  EXPECT_EQ(p.get<std::string>("name"), "x");
  EXPECT_EQ(p.get<std::vector<std::string>>("list"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(p.get<std::string>("empty"), "");
  EXPECT_EQ(t.node("basket")->args, std::vector<std::string>{"-q"});
  const Params& a = t.node("auditor")->params;
  EXPECT_EQ(a.get<int>("limits.daily.max"), 100);
  EXPECT_EQ(t.node("archive")->env.at("MODE"), "fast");
}

TEST(TopologyOverrides, ValuesAreNotSubstituted) {
  const Topology t = with_overrides({"basket.params.path=${HOME}/x"}, {{"HOME", "/home/me"}});
  EXPECT_EQ(t.node("basket")->params.get<std::string>("path"), "${HOME}/x");
}

TEST(TopologyOverrides, ApplyAfterSubstitutionOfTheFile) {
  LoadOptions o = isolated({{"N", "4"}});
  o.overrides = {"basket.replicas=2"};
  const Topology t = parse_topology(pair_with("    replicas: ${N}\n"), "t.yaml", o);
  EXPECT_EQ(t.node("basket")->replicas, 2);
}

TEST(TopologyOverrides, UnknownNodesAndChannelsNameTheOverride) {
  EXPECT_EQ(override_errors({"baskt.replicas=2", "channels.checkout.hwm=1", "nodes.zzz.job=true"}),
            (std::vector<std::string>{
                "--set baskt.replicas=2: error: unknown node 'baskt' in override (hint: did you "
                "mean 'basket'? known nodes: basket, pricing, billing, auditor, archive)",
                "--set channels.checkout.hwm=1: error: unknown channel 'checkout' in override "
                "(hint: did you mean 'checkouts'? known channels: carts, checkouts, prices, "
                "audit)",
                "--set nodes.zzz.job=true: error: unknown node 'zzz' in override (hint: known "
                "nodes: basket, pricing, billing, auditor, archive)"}));
}

TEST(TopologyOverrides, MalformedOverrides) {
  EXPECT_EQ(override_errors({"basket.replicas", "basket..x=1", "nodes=1", "basket.exec.x=1",
                             "topology.x=1", "basket.args=[a"}),
            (std::vector<std::string>{
                "--set basket.replicas: error: override must have the form path=value (hint: "
                "e.g. --set basket.replicas=3)",
                "--set basket..x=1: error: override path 'basket..x' has an empty key (hint: "
                "write dotted keys, e.g. nodes.basket.replicas)",
                "--set nodes=1: error: override path 'nodes' must name a node (hint: e.g. --set "
                "basket.replicas=3)",
                "--set basket.exec.x=1: error: cannot set 'nodes.basket.exec.x': "
                "'nodes.basket.exec' is 'bin/brook-basket', not a map",
                "--set topology.x=1: error: cannot set 'topology.x': 'topology' is a name, not a "
                "map (hint: write --set topology=<name>)",
                "--set basket.args=[a: error: invalid YAML value '[a': end of sequence flow not "
                "found (hint: quote the value if it is meant as a string, e.g. --set "
                "'basket.args=[\"-v\"]')"}));
}

TEST(TopologyOverrides, BadValuesAreReportedAtTheOverride) {
  EXPECT_EQ(override_errors({"basket.replicas=0", "basket.replica=3", "billing.job=maybe",
                             "directory.heartbeat=5s", "basket.restart={policy: bogus}",
                             "archive.inputs=[nope]"}),
            (std::vector<std::string>{
                "--set basket.replicas=0: error: replicas must be >= 1",
                "--set basket.replica=3: error: unknown key 'replica' in node 'basket' (hint: "
                "did you mean 'replicas'?)",
                "--set billing.job=maybe: error: job: expected true or false, got 'maybe'",
                "--set directory.heartbeat=5s: error: heartbeat (5s) must be shorter than ttl "
                "(5s) (hint: a lease expires when no heartbeat arrives within ttl; e.g. ttl: 3s, "
                "heartbeat: 1s)",
                "--set basket.restart={policy: bogus}: error: restart.policy: unknown value "
                "'bogus' (hint: allowed values: never, on-failure, always)",
                "--set archive.inputs=[nope]: error: input 'nope' of node 'archive' uses "
                "undeclared channel 'nope' (hint: declared channels: carts, checkouts, prices, "
                "audit)"}));
}

// --- exec resolution ----------------------------------------------------------------------------

class TopologyExec : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("brook-topology-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "bin");
    fs::create_directories(root_ / "path");
    fs::create_directories(root_ / "conf");
  }
  void TearDown() override { fs::remove_all(root_); }

  void file(const fs::path& p, bool executable) {
    std::ofstream(p) << "#!/bin/sh\n";
    fs::permissions(
        p, executable ? fs::perms::owner_all : fs::perms::owner_read | fs::perms::owner_write);
  }

  Topology load(const std::string& exec, std::vector<fs::path> search = {}) {
    const fs::path topo = root_ / "conf" / "t.yaml";
    std::ofstream(topo) << "topology: t\nchannels: {}\nnodes:\n  n:\n    exec: " << exec << "\n";
    LoadOptions o = isolated({{"PATH", (root_ / "path").string() + "::/nonexistent"}});
    o.exec_search_path = std::move(search);
    return load_topology(topo, o);
  }

  fs::path root_;
};

TEST_F(TopologyExec, SearchPathComesBeforePath) {
  file(root_ / "bin" / "tool", true);
  file(root_ / "path" / "tool", true);
  const Topology t = load("tool", {root_ / "bin"});
  EXPECT_EQ(t.node("n")->exec, "tool");
  EXPECT_EQ(t.node("n")->exec_path, root_ / "bin" / "tool");
  EXPECT_TRUE(t.warnings.empty());
}

TEST_F(TopologyExec, FallsBackToPathAndSkipsNonExecutables) {
  file(root_ / "bin" / "tool", false);
  file(root_ / "path" / "tool", true);
  EXPECT_EQ(load("tool", {root_ / "bin"}).node("n")->exec_path, root_ / "path" / "tool");
}

TEST_F(TopologyExec, PathsWithSlashAreRelativeToTheTopologyFile) {
  file(root_ / "bin" / "tool", true);
  EXPECT_EQ(load("../bin/tool").node("n")->exec_path, root_ / "bin" / "tool");
  EXPECT_EQ(load((root_ / "bin" / "tool").string()).node("n")->exec_path, root_ / "bin" / "tool");
}

TEST_F(TopologyExec, MissingProgramIsAWarningWithAnEmptyPath) {
  const Topology t = load("nothing-here", {root_ / "bin"});
  EXPECT_TRUE(t.node("n")->exec_path.empty());
  ASSERT_EQ(t.warnings.size(), 1u);
  EXPECT_EQ(t.warnings[0].str(), (root_ / "conf" / "t.yaml").string() +
                                     ":5:11: warning: exec 'nothing-here' not found in " +
                                     (root_ / "bin").string() +
                                     " or $PATH (hint: build it, add its directory to $BROOK_PATH "
                                     "(or $PATH), or write its path with a '/' (relative to the "
                                     "topology file))");
  const Topology u = load("./nothing-here");
  EXPECT_TRUE(u.node("n")->exec_path.empty());
  ASSERT_EQ(u.warnings.size(), 1u);
  EXPECT_EQ(u.warnings[0].message,
            "exec './nothing-here' not found: " + (root_ / "conf" / "nothing-here").string() +
                " does not exist");
  EXPECT_EQ(u.warnings[0].hint, "a path with '/' is relative to the topology file's directory, " +
                                    (root_ / "conf").string() +
                                    "; fix the path, or write a bare name to search $BROOK_PATH "
                                    "and $PATH");
}

}  // namespace
}  // namespace brook
