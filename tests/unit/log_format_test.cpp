// Log lines as a collector reads them (docs/monitoring.md#logs): JSON objects with the instance
// and, inside a handler, the message; text and plain lines as before; the topology's `log:`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <brook/log.hpp>
#include <brook/topology.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/log_context.hpp"

namespace brook {
namespace {

// Runs fn with stderr going to a temporary file; returns what was written.
template <class F>
std::string capture_stderr(F fn) {
  std::FILE* tmp = std::tmpfile();
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(::fileno(tmp), STDERR_FILENO);
  fn();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::string out;
  std::rewind(tmp);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, tmp)) > 0;)
    out.append(buf, n);
  std::fclose(tmp);
  return out;
}

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    out.push_back(nlohmann::json::parse(text.substr(start, nl - start)));
  EXPECT_EQ(start, text.size()) << "a line without its newline";
  return out;
}

class LogFormatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_log_identity("basket.12");
    set_log_level(LogLevel::kInfo);
  }
  void TearDown() override { set_log_format(LogFormat::kText); }
};

TEST_F(LogFormatTest, JsonLinesNameTheInstanceAndEscapeTheMessage) {
  set_log_format(LogFormat::kJson);
  const std::string text = capture_stderr([] {
    BROOK_LOG(kWarn) << "quote \" backslash \\ newline \n tab \t bell \a done";
    BROOK_LOG(kInfo) << "bad utf-8 \xff\xfe, good \xc3\xa9";
    BROOK_LOG(kDebug) << "not shown at info";
  });
  const auto lines = json_lines(text);
  ASSERT_EQ(lines.size(), 2u) << text;
  EXPECT_EQ(lines[0]["level"], "warn");
  EXPECT_EQ(lines[0]["instance"], "basket.12");
  EXPECT_EQ(lines[0]["node"], "basket");
  EXPECT_EQ(lines[0]["msg"], "quote \" backslash \\ newline \n tab \t bell \a done");
  EXPECT_EQ(lines[1]["msg"], "bad utf-8 \xef\xbf\xbd\xef\xbf\xbd, good \xc3\xa9");
  const std::string time = lines[0]["time"];
  EXPECT_EQ(time.size(), 24u) << time;  // 2026-12-07T01:02:03.456Z
  EXPECT_EQ(time.back(), 'Z');
  EXPECT_FALSE(lines[0].contains("channel"));
  EXPECT_FALSE(lines[0].contains("message_id"));
}

TEST_F(LogFormatTest, LinesLoggedWhileHandlingNameTheMessage) {
  set_log_format(LogFormat::kJson);
  TraceId trace{};
  for (std::size_t i = 0; i < trace.size(); ++i)
    trace[i] = static_cast<std::byte>(i + 0xa0);
  const std::string text = capture_stderr([&] {
    {
      const detail::LogMessage m{"checkouts", "basket.0@0123456789abcdef", 42, &trace};
      const detail::LogMessageScope scope(m);
      BROOK_LOG(kError) << "inside";
    }
    BROOK_LOG(kInfo) << "after";
  });
  const auto lines = json_lines(text);
  ASSERT_EQ(lines.size(), 2u) << text;
  EXPECT_EQ(lines[0]["channel"], "checkouts");
  EXPECT_EQ(lines[0]["message_id"], "basket.0@0123456789abcdef:42");
  EXPECT_EQ(lines[0]["trace_id"], "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
  EXPECT_EQ(lines[0]["level"], "error");
  EXPECT_FALSE(lines[1].contains("channel")) << "the scope ended";
}

TEST_F(LogFormatTest, TextAndPlainLinesKeepTheirShape) {
  set_log_format(LogFormat::kText);
  const std::string text = capture_stderr([] { BROOK_LOG(kInfo) << "hello"; });
  EXPECT_NE(text.find("Z INFO  basket.12 | hello\n"), std::string::npos) << text;
  set_log_format(LogFormat::kPlain);
  EXPECT_EQ(capture_stderr([] { BROOK_LOG(kInfo) << "hello"; }), "INFO  hello\n");
}

TEST(LogFormat, NamesParse) {
  EXPECT_EQ(parse_log_format("json"), LogFormat::kJson);
  EXPECT_EQ(parse_log_format("plain"), LogFormat::kPlain);
  EXPECT_EQ(parse_log_format("text"), LogFormat::kText);
  EXPECT_EQ(parse_log_format("JSON"), std::nullopt);
  EXPECT_EQ(to_string(LogFormat::kJson), "json");
}

Topology parse(const std::string& text, std::vector<std::string> overrides = {}) {
  LoadOptions o;
  o.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  o.resolve_execs = false;
  o.overrides = std::move(overrides);
  return parse_topology("topology: t\n" + text +
                            "channels: {work: {}}\n"
                            "nodes:\n"
                            "  src: {exec: s, outputs: [work]}\n"
                            "  sink: {exec: k, inputs: [work]}\n",
                        "/srv/topo/t.yaml", o);
}

TEST(TopologyLog, FormatIsReadAndOverridable) {
  EXPECT_EQ(parse("").log.format, std::nullopt);
  EXPECT_EQ(parse("log: {format: json}\n").log.format, LogFormat::kJson);
  EXPECT_EQ(parse("", {"log.format=json"}).log.format, LogFormat::kJson);
}

TEST(TopologyLog, AnUnknownFormatOrKeyNamesTheLineAndTheChoices) {
  try {
    parse("log: {format: jsn, colour: true}\n");
    FAIL() << "accepted";
  } catch (const TopologyError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("t.yaml:2:"), std::string::npos) << what;
    EXPECT_NE(what.find("text, plain, json"), std::string::npos) << what;
    EXPECT_NE(what.find("colour"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace brook
