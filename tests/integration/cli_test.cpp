// The brook CLI against real processes: check, graph, ls, stats, tap, send.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/cluster.hpp"
#include "support/command.hpp"
#include "support/process.hpp"

namespace brook::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

CommandResult brook(std::vector<std::string> args, std::chrono::milliseconds timeout = 60s,
                    const std::string& stdin_text = "") {
  args.insert(args.begin(), bin("brook"));
  return run_command(args, timeout, {}, stdin_text);
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream s(text);
  std::string line;
  while (std::getline(s, line)) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

TEST(CliCheck, EveryBadFixtureFailsWithFileLineAndColumn) {
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(source_path("tests/fixtures/topology"))) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("bad_", 0) != 0) continue;
    ++checked;
    const auto r = brook({"check", entry.path().string()});
    EXPECT_EQ(r.code, 1) << name << "\n" << r.describe();
    EXPECT_NE(r.err.find(entry.path().string() + ":"), std::string::npos) << name << "\n"
                                                                          << r.describe();
    EXPECT_NE(r.err.find("error:"), std::string::npos) << name;

    const auto j = brook({"check", "--json", entry.path().string()});
    EXPECT_EQ(j.code, 1) << name;
    const json report = json::parse(j.out);
    EXPECT_FALSE(report["ok"].get<bool>());
    ASSERT_FALSE(report["errors"].empty()) << name;
    EXPECT_GT(report["errors"][0]["line"].get<int>(), 0) << name << ": " << j.out;
  }
  EXPECT_GE(checked, 10);
}

TEST(CliCheck, ValidTopologiesPassAndOverridesAreChecked) {
  for (const char* file :
       {"topologies/minimal.yaml", "topologies/shop.yaml", "topologies/shop-scaled.yaml"}) {
    const auto r = brook({"check", source_path(file)});
    EXPECT_EQ(r.code, 0) << file << "\n" << r.describe();
    EXPECT_NE(r.out.find(": ok: topology"), std::string::npos) << r.describe();
  }
  const auto bad =
      brook({"check", source_path("topologies/minimal.yaml"), "--set", "printer.replicas=0"});
  EXPECT_EQ(bad.code, 1) << bad.describe();
  EXPECT_NE(bad.err.find("--set printer.replicas=0"), std::string::npos) << bad.describe();

  const auto missing = brook({"check", "/nonexistent/topology.yaml"});
  EXPECT_EQ(missing.code, 2) << missing.describe();
  const auto usage = brook({"check", "--no-such-option"});
  EXPECT_EQ(usage.code, 2) << usage.describe();
}

TEST(CliGraph, DotShowsNodesChannelsPatternsAndReplicas) {
  const auto r = brook({"graph", source_path("topologies/minimal.yaml")});
  ASSERT_EQ(r.code, 0) << r.describe();
  EXPECT_NE(r.out.find("digraph \"minimal\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("label=\"printer ×2\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("label=\"ticks\\npipeline\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"node:ticker\" -> \"channel:ticks\" [label=\"out\"]"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"channel:ticks\" -> \"node:printer\" [label=\"in\"]"), std::string::npos)
      << r.out;

  if (::access("/usr/bin/dot", X_OK) == 0) {
    const auto svg = brook({"graph", "--format", "svg", source_path("topologies/minimal.yaml")});
    ASSERT_EQ(svg.code, 0) << svg.describe();
    EXPECT_NE(svg.out.find("<svg"), std::string::npos);
  }
  const auto bad = brook({"graph", "--format", "png", source_path("topologies/minimal.yaml")});
  EXPECT_EQ(bad.code, 2);
}

TEST(CliGraph, EachHostIsAFrameWithItsDirectoriesAndItsShareOfEachNode) {
  const auto r = brook({"graph", source_path("topologies/shop-hosts.yaml")});
  ASSERT_EQ(r.code, 0) << r.describe();
  for (const char* host : {"a (10.77.0.1)", "b (10.77.0.2)", "c (10.77.0.3)"})
    EXPECT_NE(r.out.find(std::string("label=\"") + host + "\""), std::string::npos) << r.out;
  // product runs one replica on b and one on c: a box in each frame, each reading checkouts.
  const auto frame_b = r.out.find("subgraph \"cluster_host_b\"");
  const auto frame_c = r.out.find("subgraph \"cluster_host_c\"");
  ASSERT_NE(frame_b, std::string::npos) << r.out;
  ASSERT_NE(frame_c, std::string::npos) << r.out;
  const auto product_b = r.out.find("\"node:product@b\" [");
  const auto product_c = r.out.find("\"node:product@c\" [");
  EXPECT_TRUE(product_b > frame_b && product_b < frame_c) << r.out;
  EXPECT_GT(product_c, frame_c) << r.out;
  EXPECT_NE(r.out.find("\"channel:checkouts\" -> \"node:product@c\""), std::string::npos);
  EXPECT_NE(r.out.find("\"directory:tcp://10.77.0.2:5670\""), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\"node:order@a\""), std::string::npos) << r.out;
}

class CliLive : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.start_directory();
    cluster_.write_topology(R"(
topology: cli
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s}
channels:
  work: {}
  news: {pattern: pubsub}
nodes:
  source:
    exec: brook-test-source
    outputs: {out: work}
    params: {count: 3000, rate: 1000}
  sink:
    exec: brook-test-sink
    inputs: {in: work}
    params: {report: '{DIR}/sink.txt'}
  listener:
    exec: brook-test-sink
    inputs: {in: news}
    params: {report: '{DIR}/listener.txt'}
  announcer:
    exec: brook-test-source
    outputs: {out: news}
    params: {count: 0}
)");
  }

  Cluster cluster_;
};

TEST_F(CliLive, LsAndStatsJsonDescribeLiveInstances) {
  auto sink = cluster_.start_node("brook-test-sink", "sink");
  const auto ep = cluster_.directory_endpoint();

  const auto ls = brook({"ls", "--directory", ep, "--json"});
  ASSERT_EQ(ls.code, 0) << ls.describe();
  const json l = json::parse(ls.out);
  EXPECT_EQ(l["directory"], ep);
  ASSERT_EQ(l["instances"].size(), 1u) << ls.out;
  const json& i = l["instances"][0];
  EXPECT_EQ(i["name"], "sink.0");
  EXPECT_EQ(i["pid"].get<int>(), sink.pid());
  EXPECT_LE(i["age_ms"].get<int>(), 1000);
  ASSERT_EQ(i["registrations"].size(), 1u);
  EXPECT_EQ(i["registrations"][0]["channel"], "work");
  EXPECT_EQ(i["registrations"][0]["direction"], "in");
  EXPECT_EQ(i["registrations"][0]["pattern"], "pipeline");
  EXPECT_EQ(i["registrations"][0]["endpoint"].get<std::string>().rfind("tcp://127.0.0.1:", 0), 0u);

  const auto human = brook({"ls", "--directory", ep});
  ASSERT_EQ(human.code, 0);
  EXPECT_NE(human.out.find("sink.0"), std::string::npos) << human.out;

  auto source = cluster_.start_node("brook-test-source", "source");
  ASSERT_TRUE(wait_for(
      [&] { return cluster_.counter("sink", "work", &ChannelCounters::received) >= 500; }, 20s));
  const auto stats = brook({"stats", "--directory", ep, "--json", "--interval", "1s"});
  ASSERT_EQ(stats.code, 0) << stats.describe();
  const json s = json::parse(stats.out);
  EXPECT_EQ(s["interval_ms"].get<int>() >= 1000, true);
  const json& sink_work = s["nodes"]["sink"]["channels"]["work"];
  EXPECT_GE(sink_work["received"].get<std::uint64_t>(), 500u) << stats.out;
  EXPECT_GT(sink_work["received_per_s"].get<double>(), 300.0) << stats.out;  // source sends 1000/s
  EXPECT_EQ(sink_work["decode_errors"].get<std::uint64_t>(), 0u);
  EXPECT_TRUE(s["nodes"]["source"]["channels"]["work"].contains("emitted"));
  bool found = false;
  for (const auto& inst : s["instances"])
    found = found || inst["name"] == "source.0";
  EXPECT_TRUE(found) << stats.out;
}

// The wordcount example's nodes declare a counter (each counter replica's "words") and a gauge
// (the tally's "lines"); brook stats shows them per instance and sums them per node.
TEST(CliStats, ShowsTheCountersAndGaugesNodesDeclare) {
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: wordcount
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s}
channels:
  lines: {}
  counts: {}
nodes:
  source:
    exec: wordcount-source
    outputs: {out: lines}
    params: {lines: 700}
  counter:
    exec: wordcount-counter
    replicas: 2
    inputs: {in: lines}
    outputs: {out: counts}
  tally:
    exec: wordcount-tally
    inputs: {in: counts}
)");
  auto tally = c.start_node("wordcount-tally", "tally");
  auto counter0 = c.start_node("wordcount-counter", "counter", 0);
  auto counter1 = c.start_node("wordcount-counter", "counter", 1);
  auto source = c.start_node("wordcount-source", "source");
  ASSERT_EQ(source.wait(30s), 0) << source.log();
  // Line i has i % 7 + 1 words: each 7 lines have 28.
  constexpr std::uint64_t kWords = 700 / 7 * 28;

  const auto ep = c.directory_endpoint();
  json s;
  ASSERT_TRUE(wait_for(
      [&] {
        const auto r = brook({"stats", "--directory", ep, "--json", "--interval", "0"});
        if (r.code != 0) return false;
        s = json::parse(r.out);
        const json& words = s["nodes"]["counter"]["user_counters"]["words"];
        const json& lines = s["nodes"]["tally"]["user_gauges"]["lines"];
        return words.is_number() && words.get<std::uint64_t>() == kWords && lines.is_number() &&
               lines.get<std::int64_t>() == 700;
      },
      20s))
      << s.dump();
  std::map<std::string, std::uint64_t> words;
  for (const auto& i : s["instances"]) {
    if (i["node"] == "counter") words[i["name"]] = i["user_counters"]["words"].get<std::uint64_t>();
    EXPECT_TRUE(i["user_counters_per_s"].is_object()) << i.dump();
  }
  ASSERT_EQ(words.size(), 2u) << s.dump();
  EXPECT_EQ(words["counter.0"] + words["counter.1"], kWords);
  EXPECT_EQ(s["nodes"]["counter"]["user_gauges"], json::object());

  // The table: one row per counter and gauge of each instance, after the channels.
  const auto table = brook({"stats", "--directory", ep, "--once", "--interval", "0"});
  ASSERT_EQ(table.code, 0) << table.describe();
  // Whether a row starts with these words (columns split at spaces).
  auto row = [&](const std::vector<std::string>& expected) {
    std::istringstream lines(table.out);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream columns(line);
      std::vector<std::string> words_of_line;
      for (std::string w; words_of_line.size() < expected.size() && columns >> w;)
        words_of_line.push_back(w);
      if (words_of_line == expected) return true;
    }
    return false;
  };
  EXPECT_TRUE(row({"INSTANCE", "COUNTER", "VALUE", "RATE"})) << table.out;
  EXPECT_TRUE(row({"counter.0", "words", std::to_string(words["counter.0"])})) << table.out;
  EXPECT_TRUE(row({"counter.1", "words", std::to_string(words["counter.1"])})) << table.out;
  EXPECT_TRUE(row({"tally.0", "lines", "(gauge)", "700"})) << table.out;
  for (auto* p : {&counter0, &counter1, &tally})
    EXPECT_EQ(p->stop(), 0) << p->log();
}

TEST_F(CliLive, TapSeesMessagesWithoutTakingThemFromConsumers) {
  auto sink = cluster_.start_node("brook-test-sink", "sink");
  const auto ep = cluster_.directory_endpoint();
  // The tap runs alongside the whole stream.
  Process tap =
      Process::start({.argv = {bin("brook"), "tap", "work", "--directory", ep, "--duration", "6s"},
                      .env = {},
                      .log = cluster_.dir() / "tap.log",
                      .wait_ready = false,
                      .ready_timeout = 15s});
  ASSERT_TRUE(wait_for(
      [&] {
        for (const auto& n : cluster_.live_instances())
          if (n.rfind("brook-tap-", 0) == 0) return true;
        return false;
      },
      10s))
      << tap.log();
  auto source = cluster_.start_node("brook-test-source", "source");
  ASSERT_EQ(source.wait(30s), 0) << source.log();
  ASSERT_TRUE(wait_for(
      [&] { return cluster_.counter("sink", "work", &ChannelCounters::received) == 3000; }, 20s));
  ASSERT_TRUE(tap.wait(20s).has_value());
  EXPECT_EQ(sink.stop(), 0);
  const SinkReport report = read_report(cluster_.dir() / "sink.txt");
  ASSERT_TRUE(report.complete);
  EXPECT_EQ(report.messages.size(), 3000u) << "the tap must not take work from the sink";

  // The log holds the JSON lines (stdout) and the summary (stderr).
  std::istringstream lines(tap.log());
  std::string line;
  std::uint64_t decoded = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] != '{') continue;
    const json m = json::parse(line);
    EXPECT_EQ(m["channel"], "work");
    EXPECT_EQ(m["type"], "brook.test.Msg");
    EXPECT_EQ(m["payload"]["source"], "source.0");
    EXPECT_GE(m["payload"]["n"].get<std::uint64_t>(), 1u);
    ++decoded;
  }
  EXPECT_GT(decoded, 2500u) << "a tap on an idle machine should see nearly everything";
  EXPECT_NE(tap.log().find("tap: " + std::to_string(decoded) + " message(s)"), std::string::npos)
      << tap.log();
}

TEST_F(CliLive, TapOnPubsubChannelGetsCopies) {
  auto listener = cluster_.start_node("brook-test-sink", "listener");
  auto announcer = cluster_.start_node(
      "brook-test-source", "announcer", 0,
      {"--set", "announcer.params.count=1000000", "--set", "announcer.params.rate=500"});
  const auto r = brook({"tap", "news", "--directory", cluster_.directory_endpoint(), "--count",
                        "20", "--payload-only"},
                       30s);
  ASSERT_EQ(r.code, 0) << r.describe();
  const auto msgs = json_lines(r.out);
  ASSERT_EQ(msgs.size(), 20u) << r.out;
  for (std::size_t k = 1; k < msgs.size(); ++k)
    EXPECT_EQ(msgs[k]["n"].get<int>(), msgs[k - 1]["n"].get<int>() + 1) << "payloads in order";
}

TEST_F(CliLive, SendReachesANodeAndWaitsForIt) {
  auto sink = cluster_.start_node("brook-test-sink", "sink");
  const auto r = brook({"send", "work", R"({"n": 7, "source": "cli", "body": "hello"})", "--count",
                        "5", "--type", "brook.test.Msg", "--key", "k1", "--directory",
                        cluster_.directory_endpoint()});
  ASSERT_EQ(r.code, 0) << r.describe();
  EXPECT_NE(r.err.find("sent 5 message(s)"), std::string::npos) << r.describe();
  ASSERT_TRUE(wait_for(
      [&] { return cluster_.counter("sink", "work", &ChannelCounters::received) == 5; }, 10s));
  EXPECT_EQ(sink.stop(), 0);
  const SinkReport report = read_report(cluster_.dir() / "sink.txt");
  ASSERT_EQ(report.messages.size(), 5u);
  EXPECT_EQ(report.messages[0].source, "cli");
  EXPECT_EQ(report.messages[0].n, 7u);
  EXPECT_EQ(report.messages[0].key, "k1");

  // Through the topology file instead of the directory, reading the payload from stdin.
  auto sink2 = cluster_.start_node("brook-test-sink", "sink");
  const auto r2 = brook(
      {"send", "work", "-", "--topology", cluster_.topology().string(), "--type", "brook.test.Msg"},
      30s, R"({"n": 9, "source": "stdin", "body": ""})");
  ASSERT_EQ(r2.code, 0) << r2.describe();
  ASSERT_TRUE(wait_for(
      [&] { return cluster_.counter("sink", "work", &ChannelCounters::received) == 1; }, 10s));
}

TEST_F(CliLive, SendOfAnotherTypeIsADecodeErrorNotAnEmptyMessage) {
  auto sink = cluster_.start_node("brook-test-sink", "sink");
  // The payload converts to the sink's brook.test.Msg (missing fields would be defaulted); the
  // envelope's type says it is something else.
  const auto r = brook({"send", "work", R"({"n": 7, "source": "cli"})", "--count", "3", "--type",
                        "wc.Word", "--directory", cluster_.directory_endpoint()});
  ASSERT_EQ(r.code, 0) << r.describe();
  ASSERT_TRUE(wait_for(
      [&] { return cluster_.counter("sink", "work", &ChannelCounters::decode_errors) == 3; }, 10s))
      << sink.log();
  const auto stats = brook({"stats", "--directory", cluster_.directory_endpoint(), "--json"});
  ASSERT_EQ(stats.code, 0) << stats.describe();
  const json s = json::parse(stats.out);
  const json& work = s["nodes"]["sink"]["channels"]["work"];
  EXPECT_EQ(work["decode_errors"].get<std::uint64_t>(), 3u) << stats.out;
  EXPECT_EQ(work["handler_errors"].get<std::uint64_t>(), 0u) << stats.out;
  EXPECT_EQ(sink.stop(), 0);
  EXPECT_NE(sink.log().find("message of type 'wc.Word' on port 'in', which takes "
                            "'brook.test.Msg'"),
            std::string::npos)
      << sink.log();
  EXPECT_NE(sink.log().find("brook-send-"), std::string::npos)
      << "names the producer" << sink.log();
  const SinkReport report = read_report(cluster_.dir() / "sink.txt");
  ASSERT_TRUE(report.complete);
  EXPECT_TRUE(report.messages.empty()) << "the handler never ran";
}

TEST_F(CliLive, ErrorsNameTheProblem) {
  const auto ep = cluster_.directory_endpoint();
  const auto unknown = brook({"tap", "no-such-channel", "--directory", ep});
  EXPECT_EQ(unknown.code, 1) << unknown.describe();
  EXPECT_NE(unknown.err.find("no-such-channel"), std::string::npos) << unknown.describe();

  const auto not_in_file =
      brook({"send", "nope", "{}", "--topology", cluster_.topology().string()});
  EXPECT_EQ(not_in_file.code, 1) << not_in_file.describe();
  EXPECT_NE(not_in_file.err.find("channels: work, news"), std::string::npos)
      << not_in_file.describe();

  const auto bad_json = brook({"send", "work", "{not json", "--directory", ep});
  EXPECT_EQ(bad_json.code, 2) << bad_json.describe();
  EXPECT_NE(bad_json.err.find("not valid JSON"), std::string::npos);

  const auto unreachable =
      brook({"ls", "--directory", "tcp://127.0.0.1:" + std::to_string(free_port())}, 30s);
  EXPECT_EQ(unreachable.code, 3) << unreachable.describe();
  EXPECT_NE(unreachable.err.find("hint:"), std::string::npos) << unreachable.describe();

  const auto usage = brook({"frobnicate"});
  EXPECT_EQ(usage.code, 2);

  // An endpoint without its scheme is a usage error that names the form, not libzmq's EINVAL.
  for (const auto& [given, guess] :
       {std::pair<std::string, std::string>{"localhost:5800", "tcp://localhost:5800"},
        {"5800", "tcp://127.0.0.1:5800"}}) {
    const auto bad = brook({"ls", "-d", given});
    EXPECT_EQ(bad.code, 2) << bad.describe();
    EXPECT_NE(bad.err.find("--directory '" + given +
                           "' is not a directory endpoint: use tcp://host:port (port 1-65535) or "
                           "ipc://path (did you mean " +
                           guess + "?)"),
              std::string::npos)
        << bad.describe();
  }
  const auto bad_tap = brook({"tap", "work", "-d", "tcp://nowhere"});
  EXPECT_EQ(bad_tap.code, 2) << bad_tap.describe();
}

}  // namespace
}  // namespace brook::test
