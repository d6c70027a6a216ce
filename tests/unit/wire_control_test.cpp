// The data path's small frames (docs/wire.md): acknowledgements, welcomes, tap refusals and the
// hello subscriptions a publisher reads. Peers are not trusted: a frame's declared sizes must not
// turn into allocations, and a topic of any length is ignored rather than kept.
#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <msgpack.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/socket_setup.hpp"
#include "support/msgpack_map.hpp"
#include "wire/control_frames.hpp"
#include "wire/msgpack_reader.hpp"

namespace brook::detail {
namespace {

std::span<const std::byte> bytes(const std::string& s) {
  return as_bytes(s);
}

std::string frame_of(const std::vector<int>& octets) {
  return {octets.begin(), octets.end()};
}

template <class T>
std::string pack(const T& value) {
  msgpack::sbuffer b;
  msgpack::pack(b, value);
  return {b.data(), b.size()};
}

TEST(WireAck, ReadsTheSeqsAndSkipsWhatIsNotOne) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_array(3);
  p.pack(1);
  p.pack(std::string("ack"));
  p.pack_array(6);
  p.pack(5);
  p.pack(-1);
  p.pack(std::string("x"));
  p.pack(std::vector<int>{7, 8});
  p.pack_uint64(1ull << 40);
  p.pack_map(1);
  p.pack(1);
  p.pack(2.5);
  std::vector<std::uint64_t> seqs;
  ASSERT_TRUE(decode_ack(bytes(std::string(b.data(), b.size())), seqs));
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{5, 1ull << 40}));
}

TEST(WireAck, RejectsOtherShapesAndVersions) {
  std::vector<std::uint64_t> seqs;
  EXPECT_FALSE(decode_ack(bytes(""), seqs));
  EXPECT_FALSE(decode_ack(bytes(pack(std::make_tuple(2, "ack", std::vector<int>{1}))), seqs));
  EXPECT_FALSE(decode_ack(bytes(pack(std::make_tuple(1, "nak", std::vector<int>{1}))), seqs));
  EXPECT_FALSE(decode_ack(bytes(pack(std::make_tuple(1, "ack", 1))), seqs));
  EXPECT_FALSE(decode_ack(bytes(pack(std::make_tuple(1, "ack"))), seqs));
}

TEST(WireAck, DeclaredCountsBeyondTheFrameAreTruncationNotAllocation) {
  // [1, "ack", array32 claiming 4294967295 seqs]; then [1, "ack", [map32 claiming as many pairs]].
  const std::vector<int> huge_count{0x93, 0x01, 0xa3, 'a', 'c', 'k', 0xdd, 0xff, 0xff, 0xff, 0xff};
  const std::vector<int> huge_skipped{0x93, 0x01, 0xa3, 'a',  'c',  'k',  0xdd, 0x00,
                                      0x00, 0x00, 0x02, 0xdf, 0xff, 0xff, 0xff, 0xff};
  std::vector<std::uint64_t> seqs;
  EXPECT_FALSE(decode_ack(bytes(frame_of(huge_count)), seqs));
  EXPECT_FALSE(decode_ack(bytes(frame_of(huge_skipped)), seqs));
}

TEST(WireDrain, IsExactlyVersionOneDrainAndNeverAnAck) {
  msgpack::sbuffer b;
  encode_drain(b);
  const std::string frame(b.data(), b.size());
  EXPECT_EQ(frame, pack(std::make_tuple(1, "drain")));
  EXPECT_TRUE(is_drain(bytes(frame)));
  std::vector<std::uint64_t> seqs;
  EXPECT_FALSE(decode_ack(bytes(frame), seqs)) << "a producer that does not know it counts it";
  EXPECT_FALSE(is_drain(bytes(pack(std::make_tuple(2, "drain")))));
  EXPECT_FALSE(is_drain(bytes(pack(std::make_tuple(1, "drain", 0)))));
  EXPECT_FALSE(is_drain(bytes(pack(std::make_tuple(1, "ack", std::vector<int>{})))));
  EXPECT_FALSE(is_drain(bytes(frame.substr(0, frame.size() - 1))));
  EXPECT_FALSE(is_drain(bytes("")));
}

TEST(WireWelcome, ReadsPublisherAndNextSeq) {
  Welcome w;
  std::string why;
  const std::string m = test::pack_map(
      {{"v", 1}, {"publisher", "q.0@00000000deadbeef"}, {"channel", "q"}, {"next_seq", 17}});
  ASSERT_TRUE(decode_welcome(bytes(m), w, why)) << why;
  EXPECT_EQ(w.publisher, "q.0@00000000deadbeef");
  EXPECT_EQ(w.next_seq, 17u);
}

TEST(WireWelcome, SaysWhatIsWrong) {
  Welcome w;
  std::string why;
  EXPECT_FALSE(decode_welcome(bytes("\xc1"), w, why));
  EXPECT_EQ(why.rfind("malformed welcome: ", 0), 0u) << why;
  const std::string long_id =
      test::pack_map({{"publisher", std::string(256, 'p')}, {"next_seq", 1}});
  EXPECT_FALSE(decode_welcome(bytes(long_id), w, why));
  EXPECT_EQ(why, "welcome.publisher: longer than 255 bytes");
}

TEST(WireTapRefusal, RoundTripsAndStartsWithThePrefixATapSubscribesTo) {
  msgpack::sbuffer b;
  encode_tap_refusal(TapRefusal{"source.0@abc", "work", 16}, b);
  const std::string frame(b.data(), b.size());
  EXPECT_TRUE(std::string_view(frame).starts_with(tap_refusal_prefix()));
  EXPECT_EQ(tap_refusal_prefix().size(), 14u);
  TapRefusal r;
  std::string why;
  ASSERT_TRUE(decode_tap_refusal(bytes(frame), r, why)) << why;
  EXPECT_EQ(r.producer, "source.0@abc");
  EXPECT_EQ(r.channel, "work");
  EXPECT_EQ(r.limit, 16u);
}

TEST(WireTapRefusal, SaysWhatIsWrong) {
  TapRefusal r;
  std::string why;
  EXPECT_FALSE(decode_tap_refusal(bytes(pack(std::make_tuple(1, "ack", 3))), r, why));
  EXPECT_NE(why.find("not a tap refusal"), std::string::npos) << why;
  const std::map<std::string, int> no_producer{{"limit", 16}};
  EXPECT_FALSE(
      decode_tap_refusal(bytes(pack(std::make_tuple(1, "tap-refused", no_producer))), r, why));
  EXPECT_NE(why.find("producer"), std::string::npos) << why;
  // The prefix alone, then truncated: not one.
  EXPECT_FALSE(decode_tap_refusal(bytes(std::string(tap_refusal_prefix())), r, why));
}

TEST(WireHello, SubscriptionToAHelloTopicNamesTheSubscriber) {
  EXPECT_EQ(hello_subscriber("\x01~brook/hello/q.1@8f3a0c2d9e1b4a77"), "q.1@8f3a0c2d9e1b4a77");
  EXPECT_EQ(hello_subscriber("\x01~brook/hello/" + std::string(255, 'i')), std::string(255, 'i'));
}

TEST(WireHello, AnythingElseIsIgnored) {
  EXPECT_EQ(hello_subscriber(""), std::nullopt);
  EXPECT_EQ(hello_subscriber(std::string("\x00~brook/hello/q.1@x", 19)), std::nullopt);
  EXPECT_EQ(hello_subscriber("\x01quotes"), std::nullopt);
  EXPECT_EQ(hello_subscriber("\x01~brook/hello/"), std::nullopt);
  // Longer than any producer id: a peer's 64 KiB topic is not kept or answered.
  EXPECT_EQ(hello_subscriber("\x01~brook/hello/" + std::string(256, 'i')), std::nullopt);
  EXPECT_EQ(hello_subscriber("\x01~brook/hello/" + std::string(64 * 1024, 'i')), std::nullopt);
}

TEST(MsgpackReaderSkip, StepsOverEveryTypeAndStopsAtTruncation) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_array(12);
  p.pack_nil();
  p.pack(true);
  p.pack(-100000);
  p.pack(1.5f);
  p.pack(2.5);
  p.pack(std::string(300, 's'));
  p.pack_bin(3);
  p.pack_bin_body("abc", 3);
  p.pack_ext(1, 7);
  p.pack_ext_body("\x01", 1);
  p.pack_ext(20, 7);
  p.pack_ext_body(std::string(20, 'e').data(), 20);
  p.pack(std::map<std::string, std::vector<int>>{{"k", {1, 2, 3}}});
  p.pack_array(0);
  p.pack(std::numeric_limits<std::uint64_t>::max());
  const std::string whole = std::string(b.data(), b.size()) + "\x01";  // and one more value
  MsgpackReader r(bytes(whole));
  ASSERT_EQ(r.skip_value(), DecodeErrc::kOk);
  EXPECT_EQ(r.offset(), b.size());
  for (std::size_t cut = 0; cut < b.size(); ++cut) {
    const std::string prefix = whole.substr(0, cut);
    MsgpackReader truncated(bytes(prefix));
    EXPECT_EQ(truncated.skip_value(), DecodeErrc::kTruncated) << "cut at " << cut;
    EXPECT_EQ(truncated.offset(), 0u);
  }
  const std::string reserved = "\xc1";
  MsgpackReader never_used(bytes(reserved));
  EXPECT_EQ(never_used.skip_value(), DecodeErrc::kWrongType);
}

}  // namespace
}  // namespace brook::detail
