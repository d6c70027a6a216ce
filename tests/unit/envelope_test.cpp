#include <gtest/gtest.h>

#include <brook/envelope_codec.hpp>
#include <map>
#include <string>
#include <vector>

namespace brook {
namespace {

struct Item {
  std::string sku;
  int quantity = 0;
  double price = 0;
  std::vector<std::string> tags;
  MSGPACK_DEFINE_MAP(sku, quantity, price, tags)
  bool operator==(const Item&) const = default;
};

// The envelope only views `headers`; callers keep the vector alive while encoding.
OutgoingEnvelope sample(const std::vector<Header>& headers) {
  OutgoingEnvelope e;
  e.producer = "basket.0@00000000deadbeef";
  e.seq = 42;
  e.channel = "checkouts";
  e.type = "shop.Checkout";
  e.key = "basket-17";
  e.created_ns = 1'700'000'000'123'456'789;
  e.attempt = 3;
  for (std::size_t i = 0; i < kTraceIdSize; ++i)
    e.trace[i] = std::byte(i + 1);
  e.headers = headers;
  return e;
}

std::vector<std::byte> copy(std::span<const std::byte> s) {
  return {s.begin(), s.end()};
}

TEST(Envelope, RoundTripsEveryField) {
  std::vector<Header> headers{{"tenant", "acme"}, {"origin", "test"}};
  EnvelopeEncoder enc;
  const Item item{"SKU-1", 2, 9.5, {"a", "b"}};
  auto frame = copy(enc.encode(sample(headers), item));

  EnvelopeView v;
  ASSERT_TRUE(decode_envelope(frame, Limits{}, v).ok());
  EXPECT_EQ(v.version, kWireVersion);
  EXPECT_EQ(v.id.producer, "basket.0@00000000deadbeef");
  EXPECT_EQ(v.id.seq, 42u);
  EXPECT_EQ(v.channel, "checkouts");
  EXPECT_EQ(v.type, "shop.Checkout");
  EXPECT_TRUE(v.has_key);
  EXPECT_EQ(v.key, "basket-17");
  EXPECT_EQ(v.created_ns, 1'700'000'000'123'456'789);
  EXPECT_EQ(v.attempt, 3u);
  EXPECT_EQ(to_hex(v.trace), "0102030405060708090a0b0c0d0e0f10");
  EXPECT_EQ(v.header_count, 2u);
  EXPECT_EQ(v.header("tenant"), "acme");
  EXPECT_EQ(v.header("origin"), "test");
  EXPECT_EQ(v.header("missing"), "");

  PayloadDecoder pd;
  msgpack::object obj;
  ASSERT_TRUE(pd.unpack(v.payload, obj).ok());
  EXPECT_EQ(obj.as<Item>(), item);
}

TEST(Envelope, NoKeyIsNil) {
  auto e = sample({});
  e.key.reset();
  EnvelopeEncoder enc;
  auto frame = copy(enc.encode(e, 7));
  EnvelopeView v;
  ASSERT_TRUE(decode_envelope(frame, Limits{}, v).ok());
  EXPECT_FALSE(v.has_key);
  EXPECT_EQ(v.header_count, 0u);
}

// The node decodes a whole drain into one view: whatever the previous frame left in it (a key,
// a sampled trace context, headers, a retry's attempt) must not show in the next.
TEST(Envelope, AReusedViewHoldsOnlyTheLastFrame) {
  std::vector<Header> headers{{"tenant", "acme"}};
  auto first = sample(headers);
  first.trace_flags = kTraceSampled;
  for (std::size_t i = 0; i < kSpanIdSize; ++i)
    first.parent_span[i] = std::byte(0xa0 + i);
  auto second = sample({});
  second.producer = "order.1@0000000000000001";
  second.seq = 7;
  second.channel = "orders";
  second.type = "shop.Order";
  second.key.reset();
  second.created_ns = 5;
  second.attempt = 1;
  EnvelopeEncoder enc;
  const auto a = copy(enc.encode(first, std::string("first")));
  const auto b = copy(enc.encode(second, 2));

  EnvelopeView reused;
  ASSERT_TRUE(decode_envelope(a, Limits{}, reused).ok());
  ASSERT_TRUE(reused.sampled());
  ASSERT_EQ(reused.header_count, 1u);
  reused.attempt = 4;  // as a retry sets it
  ASSERT_TRUE(decode_envelope(b, Limits{}, reused).ok());
  EnvelopeView fresh;
  ASSERT_TRUE(decode_envelope(b, Limits{}, fresh).ok());

  EXPECT_EQ(reused.version, fresh.version);
  EXPECT_EQ(reused.id.producer, fresh.id.producer);
  EXPECT_EQ(reused.id.seq, fresh.id.seq);
  EXPECT_EQ(reused.channel, fresh.channel);
  EXPECT_EQ(reused.type, fresh.type);
  EXPECT_EQ(reused.has_key, fresh.has_key);
  EXPECT_EQ(reused.key, fresh.key);
  EXPECT_EQ(reused.created_ns, fresh.created_ns);
  EXPECT_EQ(reused.attempt, 1u);
  EXPECT_EQ(reused.trace, fresh.trace);
  EXPECT_EQ(reused.parent_span, SpanId{});
  EXPECT_EQ(reused.trace_flags, 0);
  EXPECT_EQ(reused.header_count, 0u);
  EXPECT_EQ(reused.headers_raw.data(), fresh.headers_raw.data());
  EXPECT_EQ(reused.headers_raw.size(), fresh.headers_raw.size());
  EXPECT_EQ(reused.payload.data(), fresh.payload.data());
  EXPECT_EQ(reused.payload.size(), fresh.payload.size());
  EXPECT_EQ(reused.frame.data(), fresh.frame.data());
  EXPECT_EQ(reused.frame.size(), fresh.frame.size());
}

TEST(Envelope, EncoderReusesItsBuffer) {
  EnvelopeEncoder enc;
  auto e = sample({});
  const std::byte* first = enc.encode(e, std::string(200, 'x')).data();
  const std::byte* second = enc.encode(e, std::string(100, 'y')).data();
  EXPECT_EQ(first, second);
}

TEST(Envelope, RawPayloadIsCopiedVerbatim) {
  msgpack::sbuffer payload;
  msgpack::pack(payload, std::map<std::string, int>{{"a", 1}});
  EnvelopeEncoder enc;
  auto frame = copy(enc.encode_raw(
      sample({}), {reinterpret_cast<const std::byte*>(payload.data()), payload.size()}));
  EnvelopeView v;
  ASSERT_TRUE(decode_envelope(frame, Limits{}, v).ok());
  ASSERT_EQ(v.payload.size(), payload.size());
  EXPECT_EQ(std::memcmp(v.payload.data(), payload.data(), payload.size()), 0);
}

// Builds an envelope by hand so each field can be corrupted independently.
struct Builder {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> p{buf};
  std::vector<std::byte> bytes() const {
    auto* b = reinterpret_cast<const std::byte*>(buf.data());
    return {b, b + buf.size()};
  }
};

enum class Corrupt {
  kNone,
  kVersion,
  kProducerType,
  kSeqZero,
  kSeqNegative,
  kChannelType,
  kKeyType,
  kCreatedType,
  kAttemptZero,
  kTraceShort,
  kHeadersType,
  kHeaderValueType,
  kPayloadType
};

std::vector<std::byte> build(Corrupt c) {
  Builder b;
  auto& p = b.p;
  p.pack_array(11);
  p.pack(c == Corrupt::kVersion ? 2 : 1);
  if (c == Corrupt::kProducerType)
    p.pack(5);
  else
    p.pack(std::string("p.0@1"));
  if (c == Corrupt::kSeqZero)
    p.pack(0);
  else if (c == Corrupt::kSeqNegative)
    p.pack(-4);
  else
    p.pack(9);
  if (c == Corrupt::kChannelType)
    p.pack_nil();
  else
    p.pack(std::string("ch"));
  p.pack(std::string("t"));
  if (c == Corrupt::kKeyType)
    p.pack(12);
  else
    p.pack_nil();
  if (c == Corrupt::kCreatedType)
    p.pack(std::string("now"));
  else
    p.pack(-5);  // negative ok
  p.pack(c == Corrupt::kAttemptZero ? 0 : 1);
  const char trace[16] = {};
  p.pack_bin(c == Corrupt::kTraceShort ? 8 : 16);
  p.pack_bin_body(trace, c == Corrupt::kTraceShort ? 8 : 16);
  if (c == Corrupt::kHeadersType) {
    p.pack_array(0);
  } else {
    p.pack_map(1);
    p.pack(std::string("k"));
    if (c == Corrupt::kHeaderValueType)
      p.pack(1);
    else
      p.pack(std::string("v"));
  }
  if (c == Corrupt::kPayloadType) {
    p.pack(std::string("not bin"));
  } else {
    p.pack_bin(1);
    p.pack_bin_body("\x01", 1);
  }
  return b.bytes();
}

struct BadCase {
  Corrupt corrupt;
  DecodeErrc code;
  std::string field;
};

class EnvelopeMalformed : public ::testing::TestWithParam<BadCase> {};

TEST_P(EnvelopeMalformed, IsRejectedWithTypedError) {
  const auto& c = GetParam();
  auto frame = build(c.corrupt);
  EnvelopeView v;
  auto st = decode_envelope(frame, Limits{}, v);
  EXPECT_EQ(st.code, c.code) << st.describe();
  EXPECT_EQ(std::string(st.field), c.field);
}

INSTANTIATE_TEST_SUITE_P(
    Fields, EnvelopeMalformed,
    ::testing::Values(BadCase{Corrupt::kVersion, DecodeErrc::kUnsupportedVersion, "version"},
                      BadCase{Corrupt::kProducerType, DecodeErrc::kWrongType, "producer"},
                      BadCase{Corrupt::kSeqZero, DecodeErrc::kOutOfRange, "seq"},
                      BadCase{Corrupt::kSeqNegative, DecodeErrc::kOutOfRange, "seq"},
                      BadCase{Corrupt::kChannelType, DecodeErrc::kWrongType, "channel"},
                      BadCase{Corrupt::kKeyType, DecodeErrc::kWrongType, "key"},
                      BadCase{Corrupt::kCreatedType, DecodeErrc::kWrongType, "created_ns"},
                      BadCase{Corrupt::kAttemptZero, DecodeErrc::kOutOfRange, "attempt"},
                      BadCase{Corrupt::kTraceShort, DecodeErrc::kOutOfRange, "trace"},
                      BadCase{Corrupt::kHeadersType, DecodeErrc::kWrongType, "headers"},
                      BadCase{Corrupt::kHeaderValueType, DecodeErrc::kWrongType, "headers"},
                      BadCase{Corrupt::kPayloadType, DecodeErrc::kWrongType, "payload"}));

TEST(EnvelopeMalformedFrames, WellFormedBaselineDecodes) {
  auto frame = build(Corrupt::kNone);
  EnvelopeView v;
  ASSERT_TRUE(decode_envelope(frame, Limits{}, v).ok());
  EXPECT_EQ(v.created_ns, -5);
  EXPECT_EQ(v.header("k"), "v");
}

TEST(EnvelopeMalformedFrames, EveryTruncationIsRejected) {
  EnvelopeEncoder enc;
  const std::vector<Header> headers{{"a", "b"}};
  auto frame = copy(enc.encode(sample(headers), Item{"x", 1, 2, {"t"}}));
  for (std::size_t n = 0; n < frame.size(); ++n) {
    EnvelopeView v;
    auto st = decode_envelope(std::span(frame).first(n), Limits{}, v);
    EXPECT_FALSE(st.ok()) << "prefix of " << n << " bytes decoded";
    if (n > 0) {
      EXPECT_EQ(st.code, DecodeErrc::kTruncated) << n << ": " << st.describe();
    }
  }
}

TEST(EnvelopeMalformedFrames, EmptyNotArrayTrailingAndArity) {
  EnvelopeView v;
  EXPECT_EQ(decode_envelope({}, Limits{}, v).code, DecodeErrc::kEmpty);
  const std::byte map_hdr[] = {std::byte{0x80}};
  EXPECT_EQ(decode_envelope(map_hdr, Limits{}, v).code, DecodeErrc::kNotAnArray);
  const std::byte short_arr[] = {std::byte{0x92}, std::byte{0x01}, std::byte{0x01}};
  EXPECT_EQ(decode_envelope(short_arr, Limits{}, v).code, DecodeErrc::kWrongArity);
  const std::byte v2[] = {std::byte{0x92}, std::byte{0x02}, std::byte{0x01}};
  EXPECT_EQ(decode_envelope(v2, Limits{}, v).code, DecodeErrc::kUnsupportedVersion);
  auto frame = build(Corrupt::kNone);
  frame.push_back(std::byte{0});
  EXPECT_EQ(decode_envelope(frame, Limits{}, v).code, DecodeErrc::kTrailingBytes);
}

TEST(EnvelopeLimits, FrameSizeStringsAndHeaders) {
  EnvelopeEncoder enc;
  const std::vector<Header> headers{{"a", "b"}, {"c", "d"}};
  auto e = sample(headers);
  auto frame = copy(enc.encode(e, std::string(500, 'x')));
  EnvelopeView v;
  Limits small;
  small.max_message_size = frame.size() - 1;
  EXPECT_EQ(decode_envelope(frame, small, v).code, DecodeErrc::kTooLarge);

  Limits few_headers;
  few_headers.max_headers = 1;
  auto st = decode_envelope(frame, few_headers, v);
  EXPECT_EQ(st.code, DecodeErrc::kLimitExceeded);
  EXPECT_EQ(std::string(st.field), "headers");

  Limits short_names;
  short_names.max_name = 4;
  st = decode_envelope(frame, short_names, v);
  EXPECT_EQ(st.code, DecodeErrc::kLimitExceeded);
  EXPECT_EQ(std::string(st.field), "producer");

  Limits short_key;
  short_key.max_key = 3;
  EXPECT_EQ(decode_envelope(frame, short_key, v).code, DecodeErrc::kLimitExceeded);
}

TEST(EnvelopeLimits, HugeDeclaredLengthsDoNotAllocate) {
  // An array header claiming 4 billion fields, then a bin claiming 4 GiB.
  const std::byte arr32[] = {std::byte{0xdd}, std::byte{0xff}, std::byte{0xff}, std::byte{0xff},
                             std::byte{0xff}};
  EnvelopeView v;
  EXPECT_EQ(decode_envelope(arr32, Limits{}, v).code, DecodeErrc::kTruncated);

  PayloadDecoder pd;
  msgpack::object obj;
  EXPECT_FALSE(pd.unpack(arr32, obj).ok());
  const std::byte bin32[] = {std::byte{0xc6}, std::byte{0xff}, std::byte{0xff},
                             std::byte{0xff}, std::byte{0xff}, std::byte{0x00}};
  EXPECT_FALSE(pd.unpack(bin32, obj).ok());
}

TEST(PayloadDecoder, RejectsDeepNestingAndTrailingBytes) {
  Limits limits;
  limits.max_depth = 8;
  PayloadDecoder pd(limits);
  std::vector<std::byte> deep(100, std::byte{0x91});  // [[[[...
  deep.push_back(std::byte{0x01});
  msgpack::object obj;
  auto st = pd.unpack(deep, obj);
  EXPECT_EQ(st.code, DecodeErrc::kLimitExceeded) << st.describe();

  const std::byte two_values[] = {std::byte{0x01}, std::byte{0x02}};
  EXPECT_EQ(pd.unpack(two_values, obj).code, DecodeErrc::kTrailingBytes);
  const std::byte reserved[] = {std::byte{0xc1}};
  EXPECT_FALSE(pd.unpack(reserved, obj).ok());
}

TEST(PayloadDecoder, StringsReferenceTheInput) {
  msgpack::sbuffer b;
  msgpack::pack(b, std::string("hello world, a longer string"));
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(b.data()), b.size());
  PayloadDecoder pd;
  msgpack::object obj;
  ASSERT_TRUE(pd.unpack(bytes, obj).ok());
  ASSERT_EQ(obj.type, msgpack::type::STR);
  EXPECT_GE(obj.via.str.ptr, b.data());
  EXPECT_LT(obj.via.str.ptr, b.data() + b.size());
}

}  // namespace
}  // namespace brook
