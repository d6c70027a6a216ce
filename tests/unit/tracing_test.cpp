// Tracing's plain logic (docs/monitoring.md, "Tracing"; docs/wire.md, field 9): the trace
// context in the envelope (both forms), traceparent text, the root sampling decision, the span
// renderings, the span file a Tracer writes, and the `tracing:` topology section.
#include <gtest/gtest.h>

#include <brook/envelope_codec.hpp>
#include <brook/ids.hpp>
#include <brook/topology.hpp>
#include <brook/trace_context.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/process.hpp"
#include "tracing/span.hpp"
#include "tracing/tracer.hpp"

namespace brook {
namespace {

TraceId trace_of(std::uint8_t first) {
  TraceId t{};
  for (std::size_t i = 0; i < t.size(); ++i)
    t[i] = std::byte(first + i);
  return t;
}

SpanId span_of(std::uint8_t first) {
  SpanId s{};
  for (std::size_t i = 0; i < s.size(); ++i)
    s[i] = std::byte(first + i);
  return s;
}

std::vector<std::byte> encode(const OutgoingEnvelope& e) {
  EnvelopeEncoder enc;
  const auto f = enc.encode(e, 7);
  return {f.begin(), f.end()};
}

OutgoingEnvelope basic() {
  OutgoingEnvelope e;
  e.producer = "src.0@00000000deadbeef";
  e.seq = 5;
  e.channel = "raw";
  e.type = "int";
  e.trace = trace_of(1);
  return e;
}

// The size of field 9's bin: the byte after 0xc4 (bin 8) that precedes the trace bytes.
std::size_t trace_field_size(const std::vector<std::byte>& frame, const TraceId& t) {
  for (std::size_t i = 2; i + t.size() <= frame.size(); ++i) {
    if (frame[i - 2] == std::byte{0xc4} && std::equal(t.begin(), t.end(), frame.begin() + i))
      return static_cast<std::size_t>(frame[i - 1]);
  }
  return 0;
}

TEST(TraceContextWire, AnUnsampledMessageKeepsTheSixteenByteForm) {
  const auto frame = encode(basic());
  EXPECT_EQ(trace_field_size(frame, trace_of(1)), kTraceIdSize);
  EnvelopeView v;
  ASSERT_TRUE(decode_envelope(frame, Limits{}, v).ok());
  EXPECT_EQ(v.trace, trace_of(1));
  EXPECT_EQ(v.parent_span, SpanId{});
  EXPECT_EQ(v.trace_flags, 0);
  EXPECT_FALSE(v.sampled());
}

TEST(TraceContextWire, ASampledMessageCarriesParentAndFlagsInTwentyFiveBytes) {
  OutgoingEnvelope e = basic();
  e.parent_span = span_of(0x40);
  e.trace_flags = kTraceSampled;
  const auto frame = encode(e);
  EXPECT_EQ(trace_field_size(frame, trace_of(1)), kTraceContextSize);
  EnvelopeView v;
  ASSERT_TRUE(decode_envelope(frame, Limits{}, v).ok());
  EXPECT_EQ(v.trace, trace_of(1));
  EXPECT_EQ(v.parent_span, span_of(0x40));
  EXPECT_TRUE(v.sampled());
  const Envelope owned = Envelope::from_view(v);
  EXPECT_EQ(owned.parent_span, span_of(0x40));
  EXPECT_EQ(owned.trace_flags, kTraceSampled);
}

TEST(TraceContextWire, OtherSizesOfFieldNineAreRejected) {
  for (std::size_t size : {0u, 8u, 17u, 24u, 26u, 32u}) {
    std::vector<std::byte> frame = encode(basic());
    // Rebuild field 9 with `size` bytes: everything before its bin header, then the rest.
    const TraceId t = trace_of(1);
    std::size_t at = 0;
    for (std::size_t i = 2; i + t.size() <= frame.size(); ++i) {
      if (frame[i - 2] == std::byte{0xc4} && std::equal(t.begin(), t.end(), frame.begin() + i)) {
        at = i - 2;
        break;
      }
    }
    ASSERT_GT(at, 0u);
    std::vector<std::byte> bad(frame.begin(), frame.begin() + static_cast<long>(at));
    bad.push_back(std::byte{0xc4});
    bad.push_back(std::byte(size));
    bad.insert(bad.end(), size, std::byte{1});
    bad.insert(bad.end(), frame.begin() + static_cast<long>(at + 2 + kTraceIdSize), frame.end());
    EnvelopeView v;
    const DecodeStatus st = decode_envelope(bad, Limits{}, v);
    EXPECT_EQ(st.code, DecodeErrc::kOutOfRange) << size;
    EXPECT_STREQ(st.field, "trace") << size;
  }
}

TEST(Traceparent, FormatsAndParsesTheW3cForm) {
  const TraceContext c{trace_of(0xa0), span_of(0x10), kTraceSampled};
  const std::string text = format_traceparent(c);
  EXPECT_EQ(text, "00-a0a1a2a3a4a5a6a7a8a9aaabacadaeaf-1011121314151617-01");
  const auto back = parse_traceparent(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->trace, c.trace);
  EXPECT_EQ(back->parent, c.parent);
  EXPECT_TRUE(back->sampled());
  EXPECT_FALSE(
      parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")->sampled());
}

TEST(Traceparent, RejectsWhatW3cCallsInvalid) {
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",       // no flags
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // uppercase
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero parent
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // version ff
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // 00 is exact
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
       }) {
    EXPECT_FALSE(parse_traceparent(bad)) << bad;
  }
  // A later version is read by its first fields.
  EXPECT_TRUE(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-ext"));
}

TEST(Sampler, DecidesFromTheTraceIdWithTheConfiguredProbability) {
  EXPECT_TRUE(detail::Sampler(0).off());
  TraceIdGenerator ids;
  const detail::Sampler none(0), all(1), some(0.01);
  int sampled = 0;
  constexpr int kDraws = 200000;
  for (int i = 0; i < kDraws; ++i) {
    const TraceId t = ids.next();
    EXPECT_FALSE(none.sampled(t));
    EXPECT_TRUE(all.sampled(t));
    if (some.sampled(t)) ++sampled;
    EXPECT_EQ(some.sampled(t), some.sampled(t));  // the same id, the same decision
  }
  // 2000 expected; 5 standard deviations (~44) either side.
  EXPECT_GT(sampled, 1780);
  EXPECT_LT(sampled, 2220);
}

TEST(SpanIds, AreNeverZero) {
  TraceIdGenerator ids;
  for (int i = 0; i < 1000; ++i)
    EXPECT_NE(ids.next_span(), SpanId{});
}

detail::SpanRecord handled() {
  detail::SpanRecord s;
  s.trace = trace_of(0xa0);
  s.span = span_of(0x10);
  s.parent = span_of(0x20);
  s.channel = "raw";
  s.producer = "src.0@ab";
  s.seq = 17;
  s.attempt = 2;
  s.start_ns = 1'700'000'000'000'000'000;
  s.duration_ns = 1500;
  s.outcome = detail::SpanOutcome::kDeadLettered;
  s.error = "bad \"input\"\n";
  return s;
}

const detail::SpanResource kResource{"pipe", "relay", 1, "relay.1@cd"};

TEST(SpanJson, OneLineWithEveryField) {
  std::string line;
  detail::append_span_json(line, handled(), kResource);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["trace"], "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
  EXPECT_EQ(j["span"], "1011121314151617");
  EXPECT_EQ(j["parent"], "2021222324252627");
  EXPECT_EQ(j["kind"], "handle");
  EXPECT_EQ(j["topology"], "pipe");
  EXPECT_EQ(j["node"], "relay");
  EXPECT_EQ(j["instance"], 1);
  EXPECT_EQ(j["channel"], "raw");
  EXPECT_EQ(j["message"], "src.0@ab:17");
  EXPECT_EQ(j["attempt"], 2);
  EXPECT_EQ(j["start_ns"], 1'700'000'000'000'000'000);
  EXPECT_EQ(j["duration_ns"], 1500);
  EXPECT_EQ(j["outcome"], "dead-lettered");
  EXPECT_EQ(j["error"], "bad \"input\"\n");

  detail::SpanRecord root = handled();
  root.kind = detail::SpanKind::kEmit;
  root.parent = {};
  root.error.clear();
  root.outcome = detail::SpanOutcome::kOk;
  line.clear();
  detail::append_span_json(line, root, kResource);
  const auto r = nlohmann::json::parse(line);
  EXPECT_EQ(r["parent"], "");
  EXPECT_EQ(r["kind"], "emit");
  EXPECT_FALSE(r.contains("error"));
}

TEST(SpanJson, OtlpRequestFollowsTheOtlpJsonMapping) {
  detail::SpanRecord root = handled();
  root.kind = detail::SpanKind::kEmit;
  root.parent = {};
  root.outcome = detail::SpanOutcome::kOk;
  const std::vector<detail::SpanRecord> spans{root, handled()};
  const auto j = nlohmann::json::parse(detail::otlp_json(spans, kResource));
  const auto& rs = j.at("resourceSpans").at(0);
  std::map<std::string, std::string> resource;
  for (const auto& a : rs.at("resource").at("attributes")) {
    if (a.at("value").contains("stringValue"))
      resource[a.at("key")] = a.at("value").at("stringValue");
  }
  EXPECT_EQ(resource["service.name"], "relay");
  EXPECT_EQ(resource["service.instance.id"], "relay.1@cd");
  const auto& ss = rs.at("scopeSpans").at(0);
  EXPECT_EQ(ss.at("scope").at("name"), "brook");
  ASSERT_EQ(ss.at("spans").size(), 2u);
  const auto& first = ss.at("spans").at(0);
  EXPECT_EQ(first.at("traceId"), "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
  EXPECT_EQ(first.at("spanId"), "1011121314151617");
  EXPECT_FALSE(first.contains("parentSpanId"));
  EXPECT_EQ(first.at("kind"), 4);  // PRODUCER
  EXPECT_EQ(first.at("status").at("code"), 1);
  const auto& second = ss.at("spans").at(1);
  EXPECT_EQ(second.at("parentSpanId"), "2021222324252627");
  EXPECT_EQ(second.at("kind"), 5);  // CONSUMER
  EXPECT_EQ(second.at("name"), "process raw");
  EXPECT_EQ(second.at("startTimeUnixNano"), "1700000000000000000");
  EXPECT_EQ(second.at("endTimeUnixNano"), "1700000000000001500");
  EXPECT_EQ(second.at("status").at("code"), 2);  // dead-lettered is an error
  EXPECT_EQ(second.at("status").at("message"), "bad \"input\"\n");
  bool found_id = false;
  for (const auto& a : second.at("attributes")) {
    if (a.at("key") == "messaging.message.id") {
      EXPECT_EQ(a.at("value").at("stringValue"), "src.0@ab:17");
      found_id = true;
    }
  }
  EXPECT_TRUE(found_id);
}

TEST(Tracer, WritesOneSpanFilePerInstance) {
  test::TempDir dir;
  TracingSpec spec;
  spec.sample = 1;
  spec.spans = dir.path() / "spans";
  {
    detail::Tracer tracer(spec, kResource);
    tracer.record(handled());
    tracer.record(handled());
    tracer.flush();
    std::ifstream in(dir.path() / "spans" / "relay.1.jsonl");
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) {
      EXPECT_EQ(nlohmann::json::parse(line)["message"], "src.0@ab:17");
      ++lines;
    }
    EXPECT_EQ(lines, 2);
    EXPECT_EQ(tracer.dropped(), 0u);
  }
  // A restarted instance appends.
  detail::Tracer again(spec, kResource);
  again.record(handled());
  again.flush();
  std::ifstream in(dir.path() / "spans" / "relay.1.jsonl");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 3);
}

TEST(Tracer, AnUnwritableSpanDirectoryIsAConfigError) {
  test::TempDir dir;
  std::ofstream(dir.path() / "file") << "x";
  TracingSpec spec;
  spec.spans = dir.path() / "file" / "spans";
  spec.where = {"t.yaml", 3, 1};
  try {
    detail::Tracer tracer(spec, kResource);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("t.yaml:3:1: tracing.spans"), std::string::npos)
        << e.what();
  }
}

Topology parse(const std::string& tracing) {
  LoadOptions o;
  o.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  return parse_topology("topology: t\n" + tracing +
                            "\nchannels: {work: {}}\nnodes:\n  a: {exec: a, outputs: [work]}\n"
                            "  b: {exec: b, inputs: [work]}\n",
                        "/srv/topo/t.yaml", o);
}

std::string errors(const std::string& tracing) {
  try {
    parse(tracing);
  } catch (const TopologyError& e) {
    std::string out;
    for (const auto& d : e.diagnostics())
      out += d.str() + "\n";
    return out;
  }
  return "(no error)";
}

TEST(TopologyTracing, OffByDefaultSpansNextToTheFile) {
  EXPECT_EQ(parse("").tracing.sample, 0);
  EXPECT_TRUE(parse("").tracing.spans.empty());
  const Topology t =
      parse("tracing: {sample: 0.01, spans: spans, otlp: 'http://127.0.0.1:4318/v1/traces'}");
  EXPECT_DOUBLE_EQ(t.tracing.sample, 0.01);
  EXPECT_EQ(t.tracing.spans, "/srv/topo/spans");
  EXPECT_EQ(t.tracing.otlp, "http://127.0.0.1:4318/v1/traces");
}

TEST(TopologyTracing, BadValuesNameTheLine) {
  EXPECT_NE(errors("tracing: {sample: 2, spans: s}").find("t.yaml:2:19: error: tracing.sample"),
            std::string::npos)
      << errors("tracing: {sample: 2, spans: s}");
  EXPECT_NE(errors("tracing: {sample: lots, spans: s}").find("tracing.sample must be a number"),
            std::string::npos);
  EXPECT_NE(errors("tracing: {sampel: 0.1}").find("unknown key 'sampel'"), std::string::npos);
  EXPECT_NE(errors("tracing: {sampel: 0.1}").find("sample"), std::string::npos);
  EXPECT_NE(errors("tracing: {sample: 0.1, otlp: 'https://x/v1/traces'}")
                .find("tracing.otlp: expected an http:// URL"),
            std::string::npos);
  EXPECT_NE(errors("tracing: {sample: 0.1, otlp: 'http://x:99999/'}").find("bad port"),
            std::string::npos);
  EXPECT_NE(errors("tracing: {sample: 0.1}").find("sends the spans nowhere"), std::string::npos);
  EXPECT_EQ(errors("tracing: {spans: s}"), "(no error)");  // records spans of sampled arrivals
}

}  // namespace
}  // namespace brook
