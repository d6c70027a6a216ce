// Tracing across real processes (docs/monitoring.md, "Tracing"): a sampled message's trace
// followed hop by hop with `brook trace`, a traceparent given to `brook send` continued, and
// spans posted as OTLP/HTTP JSON to a real HTTP receiver.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/cluster.hpp"
#include "support/command.hpp"

namespace brook::test {
namespace {

using nlohmann::json;

std::vector<json> read_lines(const std::filesystem::path& file) {
  std::vector<json> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    out.push_back(line);
  return out;
}

// Where a tree line's text starts (after the "│  " / "   " indentation and "└─ ").
std::size_t depth_of(const std::string& line) {
  const std::size_t at =
      line.find("└─ ") != std::string::npos ? line.find("└─ ") : line.find("├─ ");
  return at;
}

constexpr const char* kPipeline = R"(
topology: traced
directory: {endpoints: ["{DIRECTORY}"], ttl: 3s, heartbeat: 200ms}
tracing: {sample: 1.0, spans: spans}
channels:
  raw: {}
  cooked: {}
nodes:
  source:
    exec: brook-test-source
    outputs: {out: raw}
    params: {count: 20, keys: 2}
  relay:
    exec: brook-test-counter
    inputs: {in: raw}
    outputs: {out: cooked}
    params: {memory: true}
  sink:
    exec: brook-test-sink
    inputs: {in: cooked}
    params: {report: "{DIR}/sink.txt"}
)";

TEST(Tracing, BrookTraceFollowsAMessageHopByHop) {
  Cluster c;
  c.start_directory();
  c.write_topology(kPipeline);
  auto sink = c.start_node("brook-test-sink", "sink");
  auto relay = c.start_node("brook-test-counter", "relay");
  auto source = c.start_node("brook-test-source", "source");
  ASSERT_EQ(source.wait(30s), 0) << source.log();
  ASSERT_TRUE(
      wait_for([&] { return c.counter("sink", "cooked", &ChannelCounters::received) == 20; }, 20s));
  ASSERT_EQ(relay.stop(), 0) << relay.log();
  ASSERT_EQ(sink.stop(), 0) << sink.log();

  // One span file per instance; every message sampled at 1.0.
  const auto spans = c.dir() / "spans";
  const auto roots = read_lines(spans / "source.0.jsonl");
  ASSERT_EQ(roots.size(), 20u);
  EXPECT_EQ(roots[0]["kind"], "emit");
  EXPECT_EQ(roots[0]["parent"], "");
  const auto relayed = read_lines(spans / "relay.0.jsonl");
  const auto sunk = read_lines(spans / "sink.0.jsonl");
  ASSERT_EQ(relayed.size(), 20u);
  ASSERT_EQ(sunk.size(), 20u);
  for (const auto& s : relayed) {
    EXPECT_EQ(s["outcome"], "ok");
    EXPECT_EQ(s["channel"], "raw");
  }

  // The third message, by the id brook tap prints (producer:seq).
  const std::string id = roots[2]["message"];
  const std::string trace = roots[2]["trace"];
  const auto r = run_command({bin("brook"), "trace", id, "--topology", c.topology().string()});
  ASSERT_EQ(r.code, 0) << r.describe();
  const auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 4u) << r.out;
  EXPECT_EQ(out[0].rfind("trace " + trace + ": 3 spans over ", 0), 0u) << r.out;
  EXPECT_NE(out[1].find("send  source.0 → raw  " + id + "  ◀"), std::string::npos) << r.out;
  EXPECT_NE(out[2].find("relay.0  raw  " + id + "  "), std::string::npos) << r.out;
  EXPECT_NE(out[2].find(" ms  ok"), std::string::npos) << r.out;
  EXPECT_NE(out[3].find("sink.0  cooked  relay.0@"), std::string::npos) << r.out;
  EXPECT_NE(out[3].find(" ms  ok"), std::string::npos) << r.out;
  // Each hop under the one before.
  EXPECT_LT(depth_of(out[1]), depth_of(out[2])) << r.out;
  EXPECT_LT(depth_of(out[2]), depth_of(out[3])) << r.out;

  // The relay's message finds the same trace; so does the trace id; --spans works alone.
  const std::string from_relay = out[3].substr(out[3].find("relay.0@"));
  const std::string cooked = from_relay.substr(0, from_relay.find(' '));
  const auto by_cooked = run_command({bin("brook"), "trace", cooked, "--spans", spans.string()});
  ASSERT_EQ(by_cooked.code, 0) << by_cooked.describe();
  EXPECT_EQ(lines_of(by_cooked.out)[0], out[0]);
  EXPECT_NE(by_cooked.out.find(cooked + "  "), std::string::npos);
  const auto by_trace = run_command({bin("brook"), "trace", trace, "--spans", spans.string()});
  ASSERT_EQ(by_trace.code, 0) << by_trace.describe();
  EXPECT_EQ(lines_of(by_trace.out).size(), 4u) << by_trace.out;

  const auto none = run_command({bin("brook"), "trace", "nobody.0@x:1", "--spans", spans.string()});
  EXPECT_EQ(none.code, 1) << none.describe();
  EXPECT_NE(none.err.find("no span of nobody.0@x:1"), std::string::npos) << none.err;
  const auto bad = run_command({bin("brook"), "trace", "garbage", "--spans", spans.string()});
  EXPECT_EQ(bad.code, 2) << bad.describe();
}

TEST(Tracing, BrookSendContinuesAGivenTraceparent) {
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: given
directory: {endpoints: ["{DIRECTORY}"], ttl: 3s, heartbeat: 200ms}
tracing: {spans: spans}
channels:
  in: {external: true}
nodes:
  sink:
    exec: brook-test-sink
    inputs: {in: in}
    params: {report: "{DIR}/sink.txt"}
)");
  auto sink = c.start_node("brook-test-sink", "sink");
  const std::string tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const auto sent =
      run_command({bin("brook"), "send", "in", R"({"n": 1, "source": "cli", "body": ""})", "--type",
                   "brook.test.Msg", "--traceparent", tp, "--topology", c.topology().string()});
  ASSERT_EQ(sent.code, 0) << sent.describe();
  // An unsampled one (flags 00) leaves no span; sample is 0, so nothing else is sampled.
  const auto quiet = run_command(
      {bin("brook"), "send", "in", R"({"n": 2, "source": "cli", "body": ""})", "--type",
       "brook.test.Msg", "--traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
       "--topology", c.topology().string()});
  ASSERT_EQ(quiet.code, 0) << quiet.describe();
  ASSERT_TRUE(
      wait_for([&] { return c.counter("sink", "in", &ChannelCounters::received) == 2; }, 20s));
  ASSERT_EQ(sink.stop(), 0) << sink.log();
  const auto spans = read_lines(c.dir() / "spans" / "sink.0.jsonl");
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0]["trace"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(spans[0]["parent"], "00f067aa0ba902b7");

  const auto bad = run_command({bin("brook"), "send", "in", "1", "--traceparent", "00-xyz",
                                "--topology", c.topology().string()});
  EXPECT_EQ(bad.code, 2) << bad.describe();
  EXPECT_NE(bad.err.find("--traceparent expects"), std::string::npos) << bad.err;
}

// A real HTTP server: records each POST's path and body as one JSON line, answers 200.
constexpr const char* kReceiver = R"(#!/usr/bin/python3
import http.server, json, sys
out, port_file = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(out, "a") as f:
            f.write(json.dumps({"path": self.path, "type": self.headers["Content-Type"],
                                "body": json.loads(body)}) + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
import os; os.rename(port_file + ".tmp", port_file)
s.serve_forever()
)";

TEST(Tracing, SpansArePostedAsOtlpJson) {
  Cluster c;
  c.start_directory();
  const auto script = c.dir().write("receiver.py", kReceiver);
  const auto posts = c.dir() / "posts.jsonl";
  const auto port_file = c.dir() / "port";
  auto receiver = Process::start(
      {.argv = {"/usr/bin/python3", script.string(), posts.string(), port_file.string()},
       .env = {},
       .log = c.dir() / "receiver.log",
       .wait_ready = false,
       .ready_timeout = 15s});
  ASSERT_TRUE(wait_for([&] { return std::filesystem::exists(port_file); }, 10s)) << receiver.log();
  std::string port;
  std::ifstream(port_file) >> port;
  std::string topology = kPipeline;
  topology.replace(topology.find("spans: spans"), 12,
                   "otlp: 'http://127.0.0.1:" + port + "/v1/traces'");
  c.write_topology(topology);
  auto sink = c.start_node("brook-test-sink", "sink");
  auto relay = c.start_node("brook-test-counter", "relay");
  auto source = c.start_node("brook-test-source", "source");
  ASSERT_EQ(source.wait(30s), 0) << source.log();

  // 20 roots + 20 relay handlings + 20 sink handlings, in batches of whatever size.
  std::vector<json> spans;
  std::map<std::string, std::string> service_of;  // span id -> service.name
  ASSERT_TRUE(wait_for(
      [&] {
        spans.clear();
        for (const auto& post : read_lines(posts)) {
          EXPECT_EQ(post["path"], "/v1/traces");
          EXPECT_EQ(post["type"], "application/json");
          for (const auto& rs : post["body"]["resourceSpans"]) {
            std::string service;
            for (const auto& a : rs["resource"]["attributes"])
              if (a["key"] == "service.name") service = a["value"]["stringValue"];
            for (const auto& ss : rs["scopeSpans"]) {
              EXPECT_EQ(ss["scope"]["name"], "brook");
              for (const auto& s : ss["spans"]) {
                spans.push_back(s);
                service_of[s["spanId"]] = service;
              }
            }
          }
        }
        return spans.size() >= 60;
      },
      20s))
      << spans.size() << " spans posted\n"
      << receiver.log();
  EXPECT_EQ(spans.size(), 60u);
  // Every handling's parent is a posted span of the previous hop, in the same trace.
  std::map<std::string, json> by_id;
  for (const auto& s : spans)
    by_id[s["spanId"]] = s;
  int relay_hops = 0, sink_hops = 0;
  for (const auto& s : spans) {
    EXPECT_EQ(s["traceId"].get<std::string>().size(), 32u);
    EXPECT_EQ(s["spanId"].get<std::string>().size(), 16u);
    EXPECT_TRUE(s["startTimeUnixNano"].is_string());
    const std::string service = service_of[s["spanId"]];
    if (service == "source") {
      EXPECT_FALSE(s.contains("parentSpanId"));
      EXPECT_EQ(s["kind"], 4);
      continue;
    }
    EXPECT_EQ(s["kind"], 5);
    EXPECT_EQ(s["status"]["code"], 1);
    ASSERT_TRUE(by_id.count(s["parentSpanId"])) << s.dump();
    const json& parent = by_id[s["parentSpanId"]];
    EXPECT_EQ(parent["traceId"], s["traceId"]);
    if (service == "relay") {
      EXPECT_EQ(service_of[parent["spanId"]], "source");
      ++relay_hops;
    } else {
      EXPECT_EQ(service, "sink");
      EXPECT_EQ(service_of[parent["spanId"]], "relay");
      ++sink_hops;
    }
  }
  EXPECT_EQ(relay_hops, 20);
  EXPECT_EQ(sink_hops, 20);
  ASSERT_EQ(relay.stop(), 0) << relay.log();
  ASSERT_EQ(sink.stop(), 0) << sink.log();
}

}  // namespace
}  // namespace brook::test
