// EnvelopeEncoder writes the envelope's fields itself: each in msgpack's shortest form, byte for
// byte what msgpack-cxx's packer writes for them, whatever their size or value.
#include <gtest/gtest.h>

#include <brook/envelope_codec.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace brook {
namespace {

// The envelope as msgpack-cxx's packer writes it, payload in a bin32 (what the encoder reserves).
std::string packed_by_msgpack(const OutgoingEnvelope& env, const std::string& payload) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_array(kEnvelopeFields);
  p.pack_uint32(kWireVersion);
  p.pack(env.producer);
  p.pack_uint64(env.seq);
  p.pack(env.channel);
  p.pack(env.type);
  if (env.key) {
    p.pack(*env.key);
  } else {
    p.pack_nil();
  }
  p.pack_int64(env.created_ns);
  p.pack_uint32(env.attempt);
  if (env.trace_flags == 0 && env.parent_span == SpanId{}) {
    p.pack_bin(kTraceIdSize);
    p.pack_bin_body(reinterpret_cast<const char*>(env.trace.data()), kTraceIdSize);
  } else {
    std::string context(reinterpret_cast<const char*>(env.trace.data()), kTraceIdSize);
    context.append(reinterpret_cast<const char*>(env.parent_span.data()), kSpanIdSize);
    context.push_back(static_cast<char>(env.trace_flags));
    p.pack_bin(static_cast<std::uint32_t>(context.size()));
    p.pack_bin_body(context.data(), context.size());
  }
  p.pack_map(static_cast<std::uint32_t>(env.headers.size()));
  for (const auto& [k, v] : env.headers) {
    p.pack(k);
    p.pack(v);
  }
  const char bin32[5] = {'\xc6', static_cast<char>(payload.size() >> 24),
                         static_cast<char>(payload.size() >> 16),
                         static_cast<char>(payload.size() >> 8), static_cast<char>(payload.size())};
  b.write(bin32, sizeof bin32);
  b.write(payload.data(), payload.size());
  return {b.data(), b.size()};
}

std::string encoded(EnvelopeEncoder& encoder, const OutgoingEnvelope& env,
                    const std::string& payload) {
  const auto frame =
      encoder.encode_raw(env, {reinterpret_cast<const std::byte*>(payload.data()), payload.size()});
  return {reinterpret_cast<const char*>(frame.data()), frame.size()};
}

// Where two frames first differ (frames of 64 KiB strings are too long to print whole).
std::string first_difference(const std::string& a, const std::string& b) {
  std::size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i])
    ++i;
  if (i == a.size() && i == b.size()) return "";
  return "byte " + std::to_string(i) + " of " + std::to_string(a.size()) + " and " +
         std::to_string(b.size());
}

TEST(EnvelopeEncoder, WritesWhatMsgpacksPackerWritesAtEveryFormatBoundary) {
  const std::vector<std::uint64_t> unsigned_values = {
      1, 127, 128, 255, 256, 65535, 65536, 0xffffffffu, 0x100000000u, UINT64_MAX};
  const std::vector<std::int64_t> signed_values = {
      INT64_MIN, -2147483649LL, -2147483648LL, -32769,   -32768,
      -129,      -128,          -33,           -32,      -1,
      0,         127,           128,           255,      256,
      65535,     65536,         4294967296LL,  INT64_MAX};
  const std::vector<std::size_t> lengths = {0, 1, 31, 32, 255, 256, 65535, 65536};
  EnvelopeEncoder encoder;
  int cases = 0;
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    const std::string text(lengths[i], 'p');
    const std::string producer = text.empty() ? std::string("p") : text;
    const std::string other(lengths[(i + 3) % lengths.size()], 'c');
    std::vector<std::pair<std::string, std::string>> owned;
    for (std::size_t h = 0; h < (i * 5) % 21; ++h)
      owned.emplace_back("h" + std::to_string(h), text);
    std::vector<Header> headers(owned.begin(), owned.end());
    OutgoingEnvelope env;
    env.producer = producer;
    env.seq = unsigned_values[i % unsigned_values.size()];
    env.channel = other;
    env.type = text;
    if (i % 3 != 0) env.key = std::string_view(other);
    env.created_ns = signed_values[i % signed_values.size()];
    env.attempt = static_cast<std::uint32_t>(unsigned_values[(i * 7) % 4 + 1]);
    env.trace[0] = std::byte{0xab};
    if (i % 2 == 1) {
      env.parent_span[3] = std::byte{0x01};
      env.trace_flags = 1;
    }
    env.headers = headers;
    const std::string payload(lengths[(i + 5) % lengths.size()], 'y');
    EXPECT_EQ(first_difference(encoded(encoder, env, payload), packed_by_msgpack(env, payload)), "")
        << "case " << i;
    ++cases;
  }
  // Every integer format in the integer fields.
  for (const std::uint64_t seq : unsigned_values) {
    for (const std::int64_t created : signed_values) {
      OutgoingEnvelope env;
      env.producer = "basket.0@00000000deadbeef";
      env.seq = seq;
      env.channel = "checkouts";
      env.type = "shop.Checkout";
      env.created_ns = created;
      env.attempt = static_cast<std::uint32_t>(seq);
      EXPECT_EQ(
          first_difference(encoded(encoder, env, "\x91\x01"), packed_by_msgpack(env, "\x91\x01")),
          "")
          << "seq " << seq << " created_ns " << created;
      ++cases;
    }
  }
  EXPECT_EQ(cases, 8 + 10 * 19);
}

TEST(EnvelopeEncoder, AFrameDecodesBackAndTheBufferIsReused) {
  EnvelopeEncoder encoder;
  OutgoingEnvelope env;
  env.producer = "relay.0@1";
  env.channel = "priced";
  env.type = "bench.Msg";
  std::string big(100'000, 'b');  // grows the buffer past its first size
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    env.seq = seq;
    const std::string& payload = seq == 2 ? big : std::string("\xa2hi");
    const auto frame = encoder.encode_raw(
        env, {reinterpret_cast<const std::byte*>(payload.data()), payload.size()});
    Limits roomy;
    roomy.max_message_size = 1 << 20;
    EnvelopeView view;
    ASSERT_TRUE(decode_envelope(frame, roomy, view).ok()) << "seq " << seq;
    EXPECT_EQ(view.id.seq, seq);
    EXPECT_EQ(view.payload.size(), payload.size());
    EXPECT_EQ(0, std::memcmp(view.payload.data(), payload.data(), payload.size()));
  }
}

TEST(EnvelopeEncoder, EncodesAgainAfterItWasMovedFrom) {
  OutgoingEnvelope env;
  env.producer = "relay.0@1";
  env.seq = 7;
  env.channel = "priced";
  env.type = "bench.Msg";
  const std::string payload = "\x91\x2a";
  EnvelopeEncoder first;
  const std::string before = encoded(first, env, payload);
  EnvelopeEncoder second(std::move(first));
  EXPECT_EQ(encoded(second, env, payload), before);
  EXPECT_EQ(encoded(first, env, payload), before);  // NOLINT(bugprone-use-after-move): on purpose
  EnvelopeEncoder third;
  third = std::move(second);
  EXPECT_EQ(encoded(second, env, payload), before);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(encoded(third, env, payload), before);
}

}  // namespace
}  // namespace brook
