// brook trace's plain logic: span lines, message ids, and the tree it draws.
#include <gtest/gtest.h>

#include "support/process.hpp"
#include "trace_tree.hpp"

namespace brook::cli {
namespace {

SpanLine span(std::string id, std::string parent, std::string node, std::string channel,
              std::string message, std::int64_t start, std::string kind = "handle") {
  SpanLine s;
  s.trace = "0123456789abcdef0123456789abcdef";
  s.span = std::move(id);
  s.parent = std::move(parent);
  s.kind = std::move(kind);
  s.node = std::move(node);
  s.channel = std::move(channel);
  s.message = std::move(message);
  s.start_ns = start;
  s.duration_ns = 42000;
  s.outcome = "ok";
  return s;
}

TEST(CliTrace, ReadsSpanLinesAndSkipsTornOnes) {
  const auto s = parse_span_line(
      R"({"trace":"0123456789abcdef0123456789abcdef","span":"00000000000000aa","parent":"","kind":"emit","node":"src","instance":2,"channel":"raw","message":"src.2@x:7","attempt":1,"start_ns":5,"duration_ns":0,"outcome":"ok"})");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->kind, "emit");
  EXPECT_EQ(s->instance, 2u);
  EXPECT_EQ(s->message, "src.2@x:7");
  EXPECT_FALSE(parse_span_line(R"({"trace":"01","spa)"));
  EXPECT_FALSE(parse_span_line("[]"));
  EXPECT_FALSE(parse_span_line(R"({"span":"00"})"));  // no trace
}

TEST(CliTrace, TakesMessageIdsTraceIdsAndTraceparents) {
  EXPECT_EQ(parse_trace_query("src.0@ab:17")->message, "src.0@ab:17");
  EXPECT_EQ(parse_trace_query("src.0@ab/17")->message, "src.0@ab:17");  // as logs print it
  EXPECT_EQ(parse_trace_query("0123456789abcdef0123456789abcdef")->trace,
            "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(parse_trace_query("00-0123456789abcdef0123456789abcdef-00f067aa0ba902b7-01")->trace,
            "0123456789abcdef0123456789abcdef");
  EXPECT_FALSE(parse_trace_query("src.0@ab"));
  EXPECT_FALSE(parse_trace_query("src.0@ab:x"));
  EXPECT_FALSE(parse_trace_query(":17"));
}

TEST(CliTrace, DrawsHopsUnderTheirParentsInStartOrder) {
  std::vector<SpanLine> spans{
      span("000000000000000c", "000000000000000b", "sink", "cooked", "relay.0@r:1", 30),
      span("000000000000000b", "000000000000000a", "relay", "raw", "src.0@s:1", 20),
      span("000000000000000a", "", "src", "raw", "src.0@s:1", 10, "emit"),
      span("000000000000000d", "000000000000000b", "audit", "cooked", "relay.0@r:1", 25),
  };
  spans[3].outcome = "retried";
  spans[3].attempt = 2;
  spans[3].error = "boom";
  const std::string out = render_trace(spans, "src.0@s:1");
  EXPECT_EQ(out,
            "trace 0123456789abcdef0123456789abcdef: 4 spans over 0.042 ms\n"
            "└─ send  src.0 → raw  src.0@s:1  ◀\n"
            "   └─ relay.0  raw  src.0@s:1  0.042 ms  ok  ◀\n"
            "      ├─ audit.0  cooked  relay.0@r:1  0.042 ms  retried  (attempt 2)  error: boom\n"
            "      └─ sink.0  cooked  relay.0@r:1  0.042 ms  ok\n");
}

TEST(CliTrace, ASpanWithoutItsParentStartsATreeOfItsOwn) {
  const std::string out =
      render_trace({span("000000000000000b", "00f067aa0ba902b7", "relay", "raw", "cli:1", 20)}, "");
  EXPECT_NE(out.find("(parent 00f067aa0ba902b7 not recorded)\n└─ relay.0  raw  cli:1"),
            std::string::npos)
      << out;
}

TEST(CliTrace, FindsTheTraceOfAMessageAcrossFiles) {
  test::TempDir dir;
  dir.write(
      "src.0.jsonl",
      R"({"trace":"11111111111111111111111111111111","span":"000000000000000a","parent":"","kind":"emit","node":"src","instance":0,"channel":"raw","message":"src.0@s:1","attempt":1,"start_ns":1,"duration_ns":0,"outcome":"ok"})"
      "\n"
      R"({"trace":"22222222222222222222222222222222","span":"000000000000000e","parent":"","kind":"emit","node":"src","instance":0,"channel":"raw","message":"src.0@s:2","attempt":1,"start_ns":2,"duration_ns":0,"outcome":"ok"})"
      "\n");
  dir.write(
      "relay.0.jsonl",
      R"({"trace":"11111111111111111111111111111111","span":"000000000000000b","parent":"000000000000000a","kind":"handle","node":"relay","instance":0,"channel":"raw","message":"src.0@s:1","attempt":1,"start_ns":3,"duration_ns":9,"outcome":"ok"})"
      "\n{\"torn");
  dir.write("notes.txt", "not a span file\n");
  std::size_t files = 0;
  const auto found = find_trace(dir.path(), *parse_trace_query("src.0@s:1"), files);
  EXPECT_EQ(files, 2u);
  ASSERT_EQ(found.size(), 2u);
  for (const auto& s : found)
    EXPECT_EQ(s.trace, "11111111111111111111111111111111");
  EXPECT_TRUE(find_trace(dir.path(), *parse_trace_query("src.0@s:9"), files).empty());
}

}  // namespace
}  // namespace brook::cli
