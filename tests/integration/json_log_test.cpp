// `log: {format: json}` under brook up: every line a collector reads is one JSON object, and what
// a node logs about a message names its channel, id and trace.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "support/process.hpp"
#include "support/up_fixture.hpp"

namespace brook::test {
namespace {

using JsonLog = UpTest;

TEST_F(JsonLog, EveryLineOfALaunchIsJsonAndHandlerFailuresNameTheirMessage) {
  topology(R"(
topology: json-log
log: {format: json}
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s}
channels: {work: {delivery: at-least-once}}
nodes:
  source: {exec: brook-test-source, job: true, restart: never, outputs: {out: work},
           params: {count: 300, rate: 3000}}
  sink: {exec: brook-test-sink, replicas: 2, inputs: {in: work}, params: {fail_mod: 100}}
)");
  Process p = up();
  const auto code = p.wait(60s);
  ASSERT_TRUE(code.has_value()) << p.log();

  std::istringstream lines(p.log());
  std::set<std::string> instances;
  std::vector<nlohmann::json> failures;
  std::size_t count = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    ++count;
    nlohmann::json j;
    ASSERT_NO_THROW(j = nlohmann::json::parse(line)) << "not JSON: " << line;
    ASSERT_TRUE(j.is_object()) << line;
    for (const char* key : {"time", "level", "instance", "msg"})
      ASSERT_TRUE(j.contains(key)) << key << " missing: " << line;
    instances.insert(j["instance"].get<std::string>());
    if (j["msg"].get<std::string>().find("poison message") != std::string::npos)
      failures.push_back(j);
  }
  EXPECT_GT(count, 10u);
  for (const char* who : {"brook", "directory", "source.0", "sink.0", "sink.1"})
    EXPECT_TRUE(instances.count(who)) << who << " wrote no line:\n" << p.log();
  // Messages 100, 200 and 300 always fail (the runtime logs at most one such line a second):
  // the line's fields name the message its text names ("threw on message <producer>/<seq>").
  ASSERT_FALSE(failures.empty()) << p.log();
  for (const auto& f : failures) {
    EXPECT_EQ(f["level"], "error") << f;
    EXPECT_EQ(f["channel"], "work") << f;
    EXPECT_EQ(f["node"], "sink") << f;
    std::string id = f["message_id"];
    EXPECT_EQ(id.rfind("source.0@", 0), 0u) << f;
    id[id.rfind(':')] = '/';
    EXPECT_NE(f["msg"].get<std::string>().find("threw on message " + id + " "), std::string::npos)
        << f;
    const std::string trace = f["trace_id"];
    EXPECT_EQ(trace.size(), 32u) << f;
    EXPECT_EQ(trace.find_first_not_of("0123456789abcdef"), std::string::npos) << f;
  }
}

TEST_F(JsonLog, TheCommandLineChoosesTextOverTheTopology) {
  topology(R"(
topology: json-log-text
log: {format: json}
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s}
channels: {work: {}}
nodes:
  source: {exec: brook-test-source, job: true, restart: never, outputs: {out: work},
           params: {count: 10, rate: 1000}}
  sink: {exec: brook-test-sink, inputs: {in: work}}
)");
  Process p = up({"--log-format", "text"});
  const auto code = p.wait(60s);
  ASSERT_TRUE(code.has_value()) << p.log();
  EXPECT_EQ(*code, 0) << p.log();
  EXPECT_NE(p.log().find("sink.0    | INFO  ready in"), std::string::npos) << p.log();
  EXPECT_EQ(p.log().find("{\"time\""), std::string::npos) << p.log();
}

}  // namespace
}  // namespace brook::test
