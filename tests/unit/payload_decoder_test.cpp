// PayloadDecoder builds the object tree msgpack-cxx's own unpack() builds, for every msgpack
// format (the encoder's shortest forms and the wider ones other encoders write), and refuses
// what it must: truncated values, counts past the limits, the reserved byte.
#include <gtest/gtest.h>

#include <brook/envelope_codec.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace brook {
namespace {

// Writes msgpack formats byte by byte, so that each one (not only the shortest a packer picks)
// is exercised.
class Bytes {
 public:
  Bytes& tag(std::uint8_t t) {
    b_.push_back(static_cast<char>(t));
    return *this;
  }
  Bytes& be(std::uint64_t v, int width) {
    for (int i = width - 1; i >= 0; --i)
      b_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
  Bytes& raw(const std::string& s) {
    b_ += s;
    return *this;
  }
  std::span<const std::byte> span() const {
    return {reinterpret_cast<const std::byte*>(b_.data()), b_.size()};
  }
  const std::string& str() const { return b_; }

 private:
  std::string b_;
};

// One value of every format, nested in an array32 with a map16 and a map32 inside.
Bytes every_format() {
  Bytes b;
  const std::string s300(300, 's'), s70k(70'000, 'l');
  b.tag(0xdd).be(39, 4);            // array 32 of the 39 values that follow
  b.tag(0xc0).tag(0xc2).tag(0xc3);  // nil, false, true
  b.tag(0x05).tag(0xcc).be(200, 1).tag(0xcd).be(60'000, 2);                // fixint, uint 8, 16
  b.tag(0xce).be(4'000'000'000u, 4).tag(0xcf).be(0xfffffffffffffff0u, 8);  // uint 32, 64
  b.tag(0xe3);                                                             // negative fixint -29
  b.tag(0xd0).be(0x80, 1).tag(0xd1).be(0x8000, 2);                         // int 8 -128, 16
  b.tag(0xd2).be(0x80000000u, 4).tag(0xd3).be(0x8000000000000000u, 8);     // int 32, 64 minima
  b.tag(0xd0).be(5, 1).tag(0xd3).be(7, 8);               // non-negative values in signed formats
  b.tag(0xca).be(0x40490fdb, 4);                         // float 32: pi
  b.tag(0xcb).be(0x400921fb54442d18u, 8);                // float 64: pi
  b.tag(0xa3).raw("abc").tag(0xd9).be(3, 1).raw("def");  // fixstr, str 8
  b.tag(0xda).be(300, 2).raw(s300).tag(0xdb).be(70'000, 4).raw(s70k);  // str 16, 32
  b.tag(0xc4).be(2, 1).raw("xy").tag(0xc5).be(300, 2).raw(s300);       // bin 8, 16
  b.tag(0xc6).be(1, 4).raw("z");                                       // bin 32
  b.tag(0xd4).tag(1).raw("a").tag(0xd5).tag(2).raw("ab");              // fixext 1, 2
  b.tag(0xd6).tag(3).raw("abcd").tag(0xd7).tag(4).raw("abcdefgh");     // fixext 4, 8
  b.tag(0xd8).tag(5).raw("0123456789abcdef");                          // fixext 16
  b.tag(0xc7).be(3, 1).tag(6).raw("xyz").tag(0xc8).be(0, 2).tag(7);    // ext 8, 16 (empty)
  b.tag(0xc9).be(1, 4).tag(8).raw("w");                                // ext 32
  b.tag(0x90).tag(0x80).tag(0xa0);                                     // empty array, map, string
  b.tag(0x92).tag(0x01).tag(0x91).tag(0x90);                           // [1, [[]]]
  b.tag(0xdc).be(1, 2).tag(0x2a);                                      // array 16
  b.tag(0xde).be(2, 2).tag(0xa1).raw("k").tag(0x01).tag(0x02).tag(0x81).tag(0xa1).raw("v").tag(
      0xc0);
  b.tag(0xdf).be(1, 4).tag(0x91).tag(0x03).tag(0xa2).raw("ok");  // map 32 with an array key
  return b;
}

struct Line {
  std::string sku;
  std::int64_t quantity = 0;
  double price = 0;
  std::vector<std::string> tags;
  MSGPACK_DEFINE_MAP(sku, quantity, price, tags)
};

std::string packed(const msgpack::object& o) {
  msgpack::sbuffer b;
  msgpack::pack(b, o);
  return {b.data(), b.size()};
}

TEST(PayloadDecoder, BuildsWhatMsgpackCxxBuildsForEveryFormat) {
  const Bytes b = every_format();
  PayloadDecoder pd;
  msgpack::object obj;
  const DecodeStatus st = pd.unpack(b.span(), obj);
  ASSERT_TRUE(st.ok()) << st.describe();
  const msgpack::object_handle ref = msgpack::unpack(b.str().data(), b.str().size());
  ASSERT_EQ(obj.type, msgpack::type::ARRAY);
  ASSERT_EQ(obj.via.array.size, ref.get().via.array.size);
  for (std::uint32_t i = 0; i < obj.via.array.size; ++i) {
    EXPECT_EQ(obj.via.array.ptr[i].type, ref.get().via.array.ptr[i].type) << "element " << i;
    EXPECT_EQ(packed(obj.via.array.ptr[i]), packed(ref.get().via.array.ptr[i])) << "element " << i;
  }
  EXPECT_EQ(obj.via.array.ptr[5].via.u64, 60'000u);
  EXPECT_EQ(obj.via.array.ptr[12].via.i64, INT64_MIN);
  EXPECT_EQ(obj.via.array.ptr[13].type, msgpack::type::POSITIVE_INTEGER);
  EXPECT_EQ(obj.via.array.ptr[15].type, msgpack::type::FLOAT32);
  EXPECT_FLOAT_EQ(static_cast<float>(obj.via.array.ptr[15].via.f64), 3.14159265f);
}

TEST(PayloadDecoder, EveryStrictPrefixIsTruncatedAndNothingMore) {
  const Bytes b = every_format();
  PayloadDecoder pd;
  msgpack::object obj;
  for (std::size_t n = 1; n < b.span().size(); n += (n < 400 ? 1 : 997)) {
    EXPECT_EQ(pd.unpack(b.span().first(n), obj).code, DecodeErrc::kTruncated) << n << " bytes";
  }
  EXPECT_TRUE(pd.unpack(b.span(), obj).ok());
}

TEST(PayloadDecoder, ConvertsToTheHandlersType) {
  msgpack::sbuffer b;
  msgpack::pack(b, Line{"sku-1", -3, 2.5, {"a", "b"}});
  PayloadDecoder pd;
  msgpack::object obj;
  ASSERT_TRUE(pd.unpack({reinterpret_cast<const std::byte*>(b.data()), b.size()}, obj).ok());
  const Line l = obj.as<Line>();
  EXPECT_EQ(l.sku, "sku-1");
  EXPECT_EQ(l.quantity, -3);
  EXPECT_EQ(l.price, 2.5);
  EXPECT_EQ(l.tags, (std::vector<std::string>{"a", "b"}));
}

TEST(PayloadDecoder, RefusesCountsAndLengthsPastTheLimits) {
  Limits limits;
  limits.max_elements = 4;
  limits.max_message_size = 8;
  PayloadDecoder pd(limits);
  msgpack::object obj;
  Bytes five;  // an array of 5 nils: one element too many
  five.tag(0x95).tag(0xc0).tag(0xc0).tag(0xc0).tag(0xc0).tag(0xc0);
  EXPECT_EQ(pd.unpack(five.span(), obj).code, DecodeErrc::kLimitExceeded);
  Bytes four;
  four.tag(0x94).tag(0xc0).tag(0xc0).tag(0xc0).tag(0xc0);
  EXPECT_TRUE(pd.unpack(four.span(), obj).ok());
  Bytes pairs;  // 4 pairs: past max_elements / 2 + 1
  pairs.tag(0x84);
  for (int i = 0; i < 4; ++i)
    pairs.tag(0x01).tag(0xc0);
  EXPECT_EQ(pd.unpack(pairs.span(), obj).code, DecodeErrc::kLimitExceeded);
  Bytes long_string;  // 9 bytes: past max_message_size
  long_string.tag(0xa9).raw("123456789");
  EXPECT_EQ(pd.unpack(long_string.span(), obj).code, DecodeErrc::kLimitExceeded);
}

TEST(PayloadDecoder, ReusesItsStackAndZoneAcrossPayloads) {
  // A deep payload, then a flat one: the second must not see the first's open containers.
  Bytes deep;
  for (int i = 0; i < 40; ++i)
    deep.tag(0x91);
  deep.tag(0x07);
  Bytes flat;
  flat.tag(0x92).tag(0x01).tag(0x02);
  PayloadDecoder pd;
  msgpack::object obj;
  ASSERT_TRUE(pd.unpack(deep.span(), obj).ok());
  Bytes cut = deep;  // truncated mid-way: leaves containers open
  ASSERT_EQ(pd.unpack(cut.span().first(20), obj).code, DecodeErrc::kTruncated);
  ASSERT_TRUE(pd.unpack(flat.span(), obj).ok());
  ASSERT_EQ(obj.type, msgpack::type::ARRAY);
  ASSERT_EQ(obj.via.array.size, 2u);
  EXPECT_EQ(obj.via.array.ptr[1].via.u64, 2u);
}

TEST(PayloadDecoder, NestsAsDeepAsItsLimitAllows) {
  Limits limits;
  limits.max_depth = 300;  // past the stack the parser starts with
  PayloadDecoder pd(limits);
  auto nested = [](int levels) {
    Bytes b;
    for (int i = 0; i < levels; ++i)
      b.tag(0x92).tag(0x01);  // [1, [1, [1, ... nil]]]
    b.tag(0xc0);
    return b;
  };
  msgpack::object obj;
  const Bytes deep = nested(300);
  ASSERT_TRUE(pd.unpack(deep.span(), obj).ok());
  const msgpack::object_handle ref = msgpack::unpack(deep.str().data(), deep.str().size());
  EXPECT_EQ(packed(obj), packed(ref.get()));
  EXPECT_EQ(pd.unpack(nested(301).span(), obj).code, DecodeErrc::kLimitExceeded);
}

}  // namespace
}  // namespace brook
