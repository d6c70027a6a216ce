// Topology keys of request channels (pattern: request): defaults, timeout and idempotent, and the
// errors of options that belong to another pattern or a channel nobody serves.
#include <gtest/gtest.h>

#include <algorithm>
#include <brook/topology.hpp>
#include <string>
#include <vector>

namespace brook {
namespace {

using std::chrono::milliseconds;

LoadOptions isolated() {
  LoadOptions o;
  o.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  return o;
}

Topology parse(const std::string& text) {
  return parse_topology(text, "t.yaml", isolated());
}

std::vector<std::string> errors_in(const std::string& text) {
  try {
    parse(text);
  } catch (const TopologyError& e) {
    std::vector<std::string> out;
    for (const auto& d : e.diagnostics())
      out.push_back(d.str());
    return out;
  }
  ADD_FAILURE() << "parsed without errors:\n" << text;
  return {};
}

// `channel` settings, asked by node a and served by node b.
std::string with(const std::string& channel) {
  return "topology: t\n"
         "channels:\n"
         "  q: " +
         channel +
         "\n"
         "nodes:\n"
         "  a: {exec: a, outputs: [q]}\n"
         "  b: {exec: b, inputs: [q]}\n";
}

std::string first(const std::vector<std::string>& e) {
  return e.empty() ? "" : e[0];
}

TEST(TopologyRequest, DefaultsToFiveSecondsAndNotIdempotent) {
  const Topology t = parse(with("{pattern: request}"));
  const ChannelSpec& c = *t.channel("q");
  EXPECT_EQ(c.pattern, Pattern::kRequest);
  EXPECT_EQ(c.timeout, milliseconds(5000));
  EXPECT_FALSE(c.idempotent);
  EXPECT_FALSE(c.reliable());
  EXPECT_EQ(to_string(Pattern::kRequest), "request");
  EXPECT_EQ(parse_pattern("request"), Pattern::kRequest);
}

TEST(TopologyRequest, ReadsTimeoutAndIdempotent) {
  const Topology t = parse(with("{pattern: request, timeout: 250ms, idempotent: true}"));
  EXPECT_EQ(t.channel("q")->timeout, milliseconds(250));
  EXPECT_TRUE(t.channel("q")->idempotent);
}

TEST(TopologyRequest, RequestOptionsOnAnotherPatternAreErrorsWithTheLine) {
  EXPECT_EQ(first(errors_in(with("{timeout: 1s}"))),
            "t.yaml:3:16: error: channel 'q': timeout is for request channels, but this one is "
            "pipeline (hint: remove timeout, or write pattern: request)");
  EXPECT_NE(first(errors_in(with("{pattern: pubsub, idempotent: true}")))
                .find("idempotent is for request channels, but this one is pubsub"),
            std::string::npos);
}

TEST(TopologyRequest, PipelineOptionsOnARequestChannelAreErrors) {
  for (const char* opt : {"delivery: best-effort", "ack_timeout: 1s", "window: 10",
                          "retry: {max_attempts: 2}", "dead_letter: q"}) {
    const auto errors = errors_in(with(std::string("{pattern: request, ") + opt + "}"));
    EXPECT_TRUE(std::any_of(errors.begin(), errors.end(), [](const std::string& e) {
      return e.find("is not an option of request channels") != std::string::npos;
    })) << opt;
  }
  EXPECT_NE(first(errors_in(with("{pattern: request, timeout: 0ms}"))).find("at least 1ms"),
            std::string::npos);
}

TEST(TopologyRequest, ARequestChannelNeedsAServingNode) {
  EXPECT_NE(first(errors_in("topology: t\nchannels: {q: {pattern: request}}\n"
                            "nodes:\n  a: {exec: a, outputs: [q]}\n"))
                .find("request channel 'q' has no serving node"),
            std::string::npos);
}

TEST(TopologyRequest, APortMayAssertThePattern) {
  const Topology t = parse(
      "topology: t\nchannels: {q: {pattern: request}}\nnodes:\n"
      "  a: {exec: a, outputs: [{channel: q, pattern: request}]}\n"
      "  b: {exec: b, inputs: [{channel: q, pattern: request}]}\n");
  EXPECT_EQ(t.channel("q")->pattern, Pattern::kRequest);
  EXPECT_NE(first(errors_in("topology: t\nchannels: {q: {}}\nnodes:\n"
                            "  a: {exec: a, outputs: [{channel: q, pattern: request}]}\n"
                            "  b: {exec: b, inputs: [q]}\n"))
                .find("expects a request channel, but channel 'q' is pipeline"),
            std::string::npos);
}

}  // namespace
}  // namespace brook
