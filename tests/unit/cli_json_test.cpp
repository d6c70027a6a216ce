// JSON <-> msgpack mapping used by brook tap and brook send.
#include <gtest/gtest.h>

#include <brook/error.hpp>

#include "json_codec.hpp"

namespace brook::cli {
namespace {

msgpack::object_handle unpack(const std::vector<std::byte>& bytes) {
  return msgpack::unpack(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

TEST(CliJson, RoundTripsWhatJsonCanExpress) {
  const auto j = nlohmann::json::parse(
      R"({"basket_id":"b-1","qty":3,"neg":-7,"price":12.5,"ok":true,"none":null,"lines":[{"sku":"A"},{"sku":"B"}]})");
  const auto h = unpack(to_msgpack(j));
  EXPECT_EQ(to_json(h.get()), j);
}

TEST(CliJson, TagsWhatJsonCannotExpress) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_map(3);
  pk.pack(std::string("bin"));
  pk.pack_bin(2);
  pk.pack_bin_body("\x01\xff", 2);
  pk.pack(std::string("intkeys"));
  pk.pack_map(1);
  pk.pack(1);
  pk.pack(std::string("one"));
  pk.pack(std::string("nan"));
  pk.pack(std::numeric_limits<double>::quiet_NaN());
  const auto h = msgpack::unpack(buf.data(), buf.size());
  const auto j = to_json(h.get());
  EXPECT_EQ(j["bin"]["$bin"], "01ff");
  EXPECT_EQ(j["intkeys"]["$map"][0][0], 1);
  EXPECT_EQ(j["intkeys"]["$map"][0][1], "one");
  EXPECT_EQ(j["nan"], "NaN");
}

TEST(CliJson, DeepNestingIsCutNotRecursedWithoutBound) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  for (int i = 0; i < 100; ++i)
    pk.pack_array(1);
  pk.pack(1);
  const auto h = msgpack::unpack(buf.data(), buf.size());
  const std::string text = to_json(h.get()).dump();
  EXPECT_NE(text.find("<too deep>"), std::string::npos);
}

std::string usage_error(std::string_view text) {
  try {
    (void)payload_from_json(text);
  } catch (const UsageError& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << text.substr(0, 80);
  return {};
}

std::string nested(std::size_t levels) {
  return std::string(levels, '[') + std::string(levels, ']');
}

TEST(CliJsonPayload, PacksWhatItParses) {
  const auto bytes = payload_from_json(R"({"basket_id":"b-1","qty":3})");
  EXPECT_EQ(to_json(unpack(bytes).get()), nlohmann::json::parse(R"({"basket_id":"b-1","qty":3})"));
}

TEST(CliJsonPayload, InvalidJsonSaysWhere) {
  const std::string e = usage_error(R"({"qty": 3,})");
  EXPECT_EQ(e.rfind("the payload is not valid JSON: ", 0), 0u) << e;
  EXPECT_NE(e.find("line 1, column 11"), std::string::npos) << e;
}

TEST(CliJsonPayload, NumbersTooLargeForADoubleAreInvalidJson) {
  // nlohmann reports these as out_of_range, not parse_error; found by cli_json_fuzz.
  const std::string e = usage_error("[1.5e6744073709551615]");
  EXPECT_EQ(e.rfind("the payload is not valid JSON: ", 0), 0u) << e;
  EXPECT_NE(e.find("number overflow"), std::string::npos) << e;
}

TEST(CliJsonPayload, NestingIsBoundedByWhatReceiversDecode) {
  PayloadDecoder receiver;
  msgpack::object obj;
  const auto deepest = payload_from_json(nested(kMaxPayloadJsonDepth));
  EXPECT_TRUE(receiver.unpack(deepest, obj).ok());
  EXPECT_EQ(usage_error(nested(kMaxPayloadJsonDepth + 1)),
            "the payload JSON nests arrays and objects more than 64 levels deep, deeper than "
            "receivers decode; flatten it");
  // Far deeper than any stack would take if it were packed recursively.
  EXPECT_EQ(usage_error(nested(1'000'000)), usage_error(nested(kMaxPayloadJsonDepth + 1)));
}

TEST(CliJsonPayload, SizeIsBounded) {
  const std::string big = "\"" + std::string(kMaxPayloadJsonSize, 'x') + "\"";
  EXPECT_EQ(usage_error(big), "the payload is " + std::to_string(big.size()) +
                                  " bytes of JSON, more than the limit of 16777216 bytes");
}

}  // namespace
}  // namespace brook::cli
