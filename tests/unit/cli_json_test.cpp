// JSON <-> msgpack mapping used by brook tap and brook send.
#include <gtest/gtest.h>

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
  for (int i = 0; i < 100; ++i) pk.pack_array(1);
  pk.pack(1);
  const auto h = msgpack::unpack(buf.data(), buf.size());
  const std::string text = to_json(h.get()).dump();
  EXPECT_NE(text.find("<too deep>"), std::string::npos);
}

}  // namespace
}  // namespace brook::cli
