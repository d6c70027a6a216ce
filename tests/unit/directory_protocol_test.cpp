#include "directory/directory_protocol.hpp"

#include <gtest/gtest.h>

#include <brook/envelope_codec.hpp>
#include <limits>
#include <map>
#include <variant>

#include "support/msgpack_map.hpp"

namespace brook {
namespace {

std::span<const std::byte> bytes(const std::string& s) {
  return as_bytes(s);
}

RegisterRequest sample_register() {
  RegisterRequest r;
  r.node = "product";
  r.instance = 3;
  r.incarnation = "0123456789abcdef";
  r.host = "host-a";
  r.pid = 4242;
  r.lease_ms = 2500;
  r.registrations = {
      {"checkouts", Direction::kIn, Pattern::kPipeline, "tcp://127.0.0.1:4000", "in", false},
      {"resolved", Direction::kOut, Pattern::kPubsub, "", "out", false},
      {"resolved", Direction::kIn, Pattern::kPubsub, "tcp://127.0.0.1:4001", "tap", true}};
  return r;
}

TEST(DirectoryProtocol, RequestsRoundTrip) {
  std::vector<DirectoryRequestBody> bodies{HelloRequest{},
                                           sample_register(),
                                           HeartbeatRequest{"product", 3, "0123456789abcdef", {}},
                                           UnregisterRequest{"product", 3, "0123456789abcdef"},
                                           ResolveRequest{"checkouts"},
                                           SnapshotRequest{},
                                           ListRequest{}};
  std::uint64_t id = 100;
  for (const auto& body : bodies) {
    DirectoryRequest in{id++, body};
    DirectoryRequest out;
    ASSERT_TRUE(decode(bytes(encode(in)), out)) << op_name(body);
    EXPECT_EQ(out.id, in.id);
    EXPECT_EQ(out.body.index(), in.body.index());
  }
  DirectoryRequest out;
  ASSERT_TRUE(decode(bytes(encode(DirectoryRequest{1, sample_register()})), out));
  const auto& r = std::get<RegisterRequest>(out.body);
  EXPECT_EQ(r.node, "product");
  EXPECT_EQ(r.instance, 3u);
  EXPECT_EQ(r.pid, 4242u);
  EXPECT_EQ(r.lease_ms, 2500u);
  EXPECT_EQ(r.registrations, sample_register().registrations);
}

TEST(DirectoryProtocol, HeartbeatCarriesCounters) {
  HeartbeatRequest hb{"n", 0, "i", {}};
  hb.counters.uptime_ms = 12345;
  hb.counters.channels["a"].received = 5;
  hb.counters.channels["a"].decode_errors = 2;
  hb.counters.channels["b"].emitted = 9;
  DirectoryRequest out;
  ASSERT_TRUE(decode(bytes(encode(DirectoryRequest{7, hb})), out));
  const auto& c = std::get<HeartbeatRequest>(out.body).counters;
  EXPECT_EQ(c.uptime_ms, 12345u);
  EXPECT_EQ(c.channels.at("a").received, 5u);
  EXPECT_EQ(c.channels.at("a").decode_errors, 2u);
  EXPECT_EQ(c.channels.at("b").emitted, 9u);
  EXPECT_EQ(c.total().received, 5u);
}

TEST(DirectoryProtocol, HeartbeatCarriesUserCountersAndGauges) {
  HeartbeatRequest hb{"wc", 1, "i", {}};
  hb.counters.user_counters["words"] = 2800;
  hb.counters.user_counters["big"] = std::numeric_limits<std::uint64_t>::max();
  hb.counters.user_gauges["lines"] = 700;
  hb.counters.user_gauges["delta"] = std::numeric_limits<std::int64_t>::min();
  DirectoryRequest out;
  ASSERT_TRUE(decode(bytes(encode(DirectoryRequest{7, hb})), out));
  const auto& c = std::get<HeartbeatRequest>(out.body).counters;
  EXPECT_EQ(c.user_counters, hb.counters.user_counters);
  EXPECT_EQ(c.user_gauges, hb.counters.user_gauges);

  // Without any, the heartbeat is what it was before they existed: older peers see no change.
  const std::string plain = encode(DirectoryRequest{7, HeartbeatRequest{"wc", 1, "i", {}}});
  EXPECT_EQ(plain.find("user_"), std::string::npos);
}

// A heartbeat of "wc.1" whose counters map holds `fields` after uptime_ms.
std::string heartbeat_frame(
    const std::map<std::string, std::map<std::string, test::MapField>>& fields) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_map(7);
  for (const auto& [k, v] :
       std::map<std::string, test::MapField>{{"v", std::int64_t{kDirectoryProtocolVersion}},
                                             {"op", "heartbeat"},
                                             {"id", std::int64_t{1}},
                                             {"node", "wc"},
                                             {"instance", std::int64_t{1}},
                                             {"incarnation", "i"}}) {
    p.pack(k);
    std::visit([&](const auto& x) { p.pack(x); }, v);
  }
  p.pack("counters");
  p.pack_map(static_cast<std::uint32_t>(1 + fields.size()));
  p.pack("uptime_ms");
  p.pack(1);
  for (const auto& [key, m] : fields) {
    p.pack(key);
    p.pack_map(static_cast<std::uint32_t>(m.size()));
    for (const auto& [k, v] : m) {
      p.pack(k);
      std::visit([&](const auto& x) { p.pack(x); }, v);
    }
  }
  return {b.data(), b.size()};
}

TEST(DirectoryProtocol, AHostileHeartbeatCannotMakeTheDirectoryStoreMuch) {
  DirectoryRequest out;
  auto error = [&](const std::string& frame) { return decode(bytes(frame), out).error; };

  HeartbeatRequest many{"wc", 1, "i", {}};
  for (std::size_t i = 0; i <= kMaxUserMetrics; ++i)
    many.counters.user_counters["c" + std::to_string(i)] = i;
  EXPECT_EQ(error(encode(DirectoryRequest{1, many})),
            "counters.user_counters: more than 256 entries (heartbeat of wc.1)");

  HeartbeatRequest split{"wc", 1, "i", {}};
  for (std::size_t i = 0; i < 200; ++i) {
    split.counters.user_counters["c" + std::to_string(i)] = i;
    split.counters.user_gauges["g" + std::to_string(i)] = 1;
  }
  EXPECT_EQ(error(encode(DirectoryRequest{1, split})),
            "counters.user_gauges: 200 counters and 200 gauges: more than 256 in all (heartbeat "
            "of wc.1)");

  HeartbeatRequest at_limit{"wc", 1, "i", {}};
  for (std::size_t i = 0; i < kMaxUserMetrics / 2; ++i) {
    at_limit.counters.user_counters["c" + std::to_string(i)] = i;
    at_limit.counters.user_gauges["g" + std::to_string(i)] = 1;
  }
  at_limit.counters.user_counters[std::string(64, 'n')] = 1;
  at_limit.counters.user_counters.erase("c0");
  EXPECT_TRUE(decode(bytes(encode(DirectoryRequest{1, at_limit})), out)) << "256 names of 64 bytes";

  HeartbeatRequest long_name{"wc", 1, "i", {}};
  long_name.counters.user_counters[std::string(100000, 'x')] = 1;
  EXPECT_EQ(error(encode(DirectoryRequest{1, long_name})),
            "counters.user_counters: name '" + std::string(64, 'x') +
                "... (100000 bytes)' is not 1 to 64 characters of a-z, 0-9, '_', '.', '-' "
                "(heartbeat of wc.1)")
      << "the message shows a bounded part of the name";

  EXPECT_EQ(error(heartbeat_frame({{"user_gauges", {{"Bad\x01Name", std::int64_t{1}}}}})),
            "counters.user_gauges: name 'Bad?Name' is not 1 to 64 characters of a-z, 0-9, "
            "'_', '.', '-' (heartbeat of wc.1)");
  EXPECT_EQ(error(heartbeat_frame({{"user_counters", {{"n", std::int64_t{-1}}}}})),
            "counters.user_counters: 'n': expected an unsigned integer (heartbeat of wc.1)");
  EXPECT_EQ(error(heartbeat_frame({{"user_gauges", {{"n", "1"}}}})),
            "counters.user_gauges: 'n': expected a 64-bit signed integer (heartbeat of wc.1)");
  EXPECT_EQ(error(heartbeat_frame({{"user_counters", {{"n", std::int64_t{1}}}},
                                   {"user_gauges", {{"n", std::int64_t{1}}}}})),
            "counters.user_gauges: 'n' is a counter too: a name is one or the other (heartbeat of "
            "wc.1)");
  ASSERT_TRUE(decode(bytes(heartbeat_frame({{"user_gauges", {{"n", std::int64_t{-5}}}}})), out));
  EXPECT_EQ(std::get<HeartbeatRequest>(out.body).counters.user_gauges.at("n"), -5);
}

TEST(DirectoryProtocol, RepliesRoundTrip) {
  DirectoryState st{"ep", 17, 900, true};
  DirectoryReply hello{1, HelloReply{st, "tcp://127.0.0.1:5671", 3000, 1000}};
  DirectoryReply out;
  ASSERT_TRUE(decode(bytes(encode(hello)), out));
  const auto& h = std::get<HelloReply>(out.body);
  EXPECT_EQ(h.state.epoch, "ep");
  EXPECT_EQ(h.state.seq, 17u);
  EXPECT_TRUE(h.state.settled);
  EXPECT_EQ(h.pub_endpoint, "tcp://127.0.0.1:5671");

  EntriesReply er{st,
                  {DirectoryEntry{"a", 1, "inc", sample_register().registrations[0]}},
                  {{"checkouts", 12}, {"resolved", 17}}};
  ASSERT_TRUE(decode(bytes(encode(DirectoryReply{2, er})), out));
  EXPECT_EQ(std::get<EntriesReply>(out.body).entries, er.entries);
  EXPECT_EQ(std::get<EntriesReply>(out.body).channel_seq, er.channel_seq);

  InstanceInfo info;
  info.node = "a";
  info.registrations = sample_register().registrations;
  info.counters.channels["x"].sent = 3;
  info.counters.user_counters["words"] = 12;
  info.counters.user_gauges["lines"] = -1;
  ASSERT_TRUE(decode(bytes(encode(DirectoryReply{3, ListReply{st, {info}}})), out));
  const auto& l = std::get<ListReply>(out.body);
  ASSERT_EQ(l.instances.size(), 1u);
  EXPECT_EQ(l.instances[0].counters.channels.at("x").sent, 3u);
  EXPECT_EQ(l.instances[0].counters.user_counters.at("words"), 12u);
  EXPECT_EQ(l.instances[0].counters.user_gauges.at("lines"), -1);

  ASSERT_TRUE(decode(
      bytes(encode(DirectoryReply{4, ErrorReply{DirectoryErrc::kUnknownInstance, "gone"}})), out));
  EXPECT_EQ(out.id, 4u);
  EXPECT_EQ(std::get<ErrorReply>(out.body).code, DirectoryErrc::kUnknownInstance);
  EXPECT_EQ(std::get<ErrorReply>(out.body).detail, "gone");
}

TEST(DirectoryProtocol, SnapshotRequestNamesItsChannels) {
  DirectoryRequest out;
  ASSERT_TRUE(
      decode(bytes(encode(DirectoryRequest{7, SnapshotRequest{{"checkouts", "quotes"}}})), out));
  EXPECT_EQ(std::get<SnapshotRequest>(out.body).channels,
            (std::vector<std::string>{"checkouts", "quotes"}));
  ASSERT_TRUE(decode(bytes(encode(DirectoryRequest{8, SnapshotRequest{}})), out));
  EXPECT_TRUE(std::get<SnapshotRequest>(out.body).channels.empty()) << "no field: every entry";
}

TEST(DirectoryProtocol, UpdateTopicsDoNotMatchLongerChannelNames) {
  EXPECT_EQ(update_topic("", "c1"), "update:c1:");
  EXPECT_FALSE(update_topic("", "c10").starts_with(update_topic("", "c1")))
      << "a SUB subscribed to c1 must not get c10's updates";
  EXPECT_TRUE(is_update_topic(update_topic("", "c1")));
  EXPECT_FALSE(is_update_topic(kTickKind));
  EXPECT_EQ(mark_topic("", "c1"), "mark:c1:");
  EXPECT_TRUE(is_mark_topic(mark_topic("", "c1")));
  EXPECT_FALSE(is_mark_topic(update_topic("", "c1")));
}

TEST(DirectoryProtocol, TopicsOfNamedTopologiesDoNotMatchEachOther) {
  EXPECT_EQ(update_topic("shop", "c1"), "update:shop/c1:");
  EXPECT_EQ(mark_topic("shop", "c1"), "mark:shop/c1:");
  for (const auto& [a, b] : std::vector<std::pair<std::string, std::string>>{
           {"", "shop"}, {"shop", ""}, {"shop", "shop2"}, {"sh", "shop"}}) {
    EXPECT_FALSE(update_topic(b, "c1").starts_with(update_topic(a, "c1"))) << a << " " << b;
  }
}

// Every message that names a scope carries it; the unnamed scope leaves the field out.
TEST(DirectoryProtocol, ScopesRoundTrip) {
  RegisterRequest reg = sample_register();
  reg.topology = "shop";
  std::vector<DirectoryRequestBody> bodies{
      reg, HeartbeatRequest{"product", 3, "0123456789abcdef", {}, "shop"},
      UnregisterRequest{"product", 3, "0123456789abcdef", "shop"},
      ResolveRequest{"checkouts", "shop"}, SnapshotRequest{{"checkouts"}, "shop"}};
  for (const auto& body : bodies) {
    DirectoryRequest out;
    ASSERT_TRUE(decode(bytes(encode(DirectoryRequest{1, body})), out)) << op_name(body);
    std::visit(
        [&](const auto& r) {
          if constexpr (requires { r.topology; }) {
            EXPECT_EQ(r.topology, "shop") << op_name(body);
          } else {
            ADD_FAILURE() << op_name(body) << " has no scope";
          }
        },
        out.body);
  }
  DirectoryRequest out;
  ASSERT_TRUE(decode(bytes(encode(DirectoryRequest{1, ResolveRequest{"checkouts"}})), out));
  EXPECT_EQ(std::get<ResolveRequest>(out.body).topology, "");
  EXPECT_EQ(encode(DirectoryRequest{1, ResolveRequest{"c"}}).find("topology"), std::string::npos)
      << "the unnamed scope's messages are as in version 2 but for v";

  DirectoryUpdate u{"ep",
                    9,
                    4,
                    ChangeOp::kAdd,
                    ChangeReason::kRegistered,
                    DirectoryEntry{"a", 1, "inc", sample_register().registrations[0], "shop"}};
  DirectoryUpdate uout;
  ASSERT_TRUE(decode(bytes(encode(u)), uout));
  EXPECT_EQ(uout.entry.topology, "shop");
  DirectoryMark m{"ep", "checkouts", 5, "shop"}, mout;
  ASSERT_TRUE(decode(bytes(encode(m)), mout));
  EXPECT_EQ(mout.topology, "shop");
  InstanceInfo info;
  info.node = "a";
  info.incarnation = "inc";
  info.topology = "shop";
  DirectoryReply lout;
  ASSERT_TRUE(decode(bytes(encode(DirectoryReply{2, ListReply{{}, {info}}})), lout));
  EXPECT_EQ(std::get<ListReply>(lout.body).instances.at(0).topology, "shop");

  DirectoryRequest bad;
  EXPECT_FALSE(decode(bytes(encode(DirectoryRequest{1, ResolveRequest{"c", "a/b"}})), bad))
      << "a scope name with '/' would make topics ambiguous";
}

TEST(DirectoryProtocol, UpdatesAndTicksRoundTrip) {
  DirectoryUpdate u{"ep",
                    9,
                    4,
                    ChangeOp::kRemove,
                    ChangeReason::kExpired,
                    DirectoryEntry{"a", 1, "inc", sample_register().registrations[0]}};
  DirectoryUpdate out;
  ASSERT_TRUE(decode(bytes(encode(u)), out));
  EXPECT_EQ(out.seq, 9u);
  EXPECT_EQ(out.prev, 4u);
  EXPECT_EQ(out.op, ChangeOp::kRemove);
  EXPECT_EQ(out.reason, ChangeReason::kExpired);
  EXPECT_EQ(out.entry, u.entry);
  DirectoryTick t{{"ep", 5, 100, false}}, tout;
  ASSERT_TRUE(decode(bytes(encode(t)), tout));
  EXPECT_EQ(tout.state.seq, 5u);
  EXPECT_FALSE(tout.state.settled);
  DirectoryMark m{"ep", "checkouts", 5}, mout;
  ASSERT_TRUE(decode(bytes(encode(m)), mout));
  EXPECT_EQ(mout.epoch, "ep");
  EXPECT_EQ(mout.channel, "checkouts");
  EXPECT_EQ(mout.seq, 5u);
  EXPECT_FALSE(decode(bytes(encode(t)), mout)) << "a tick is not a mark";
}

using test::pack_map;

TEST(DirectoryProtocol, MalformedRequestsNameTheProblem) {
  DirectoryRequest out;
  auto st = decode(bytes(std::string("\xc1garbage")), out);
  EXPECT_FALSE(st);
  EXPECT_FALSE(st.error.empty());

  st = decode(bytes(std::string("")), out);
  EXPECT_EQ(st.error, "empty frame");

  msgpack::sbuffer arr;
  msgpack::pack(arr, std::vector<int>{1, 2});
  st = decode(bytes(std::string(arr.data(), arr.size())), out);
  EXPECT_EQ(st.error, "message: expected a map, got array");

  st = decode(bytes(pack_map({{"v", 1}, {"op", "hello"}, {"id", 1}})), out);
  EXPECT_EQ(st.error, "v: unsupported protocol version 1 (this is 3)")
      << "a peer of the version without channel topics is told so, not silently half-served";

  st = decode(bytes(pack_map({{"v", 3}, {"op", "explode"}, {"id", 1}})), out);
  EXPECT_EQ(st.error, "unknown op 'explode'");
  EXPECT_EQ(st.code, DirectoryErrc::kUnknownOp);

  st = decode(bytes(pack_map({{"v", 3}, {"op", "resolve"}, {"id", 1}, {"channel", 5}})), out);
  EXPECT_EQ(st.error, "channel: expected a string, got unsigned integer");

  st =
      decode(bytes(pack_map(
                 {{"v", 3}, {"op", "unregister"}, {"id", 1}, {"node", "a"}, {"incarnation", "x"}})),
             out);
  EXPECT_EQ(st.error, "instance: missing");

  st = decode(bytes(pack_map({{"v", 3}, {"op", "hello"}, {"id", -1}})), out);
  EXPECT_EQ(st.error, "id: expected an unsigned integer, got negative integer");
}

// A register request with `registrations` records, each with the given endpoint and `dir`.
std::string register_frame(const std::string& node, std::size_t registrations,
                           const std::string& endpoint, const std::string& dir = "in") {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_map(7);
  p.pack("v");
  p.pack(kDirectoryProtocolVersion);
  p.pack("op");
  p.pack("register");
  p.pack("id");
  p.pack(1);
  p.pack("node");
  p.pack(node);
  p.pack("instance");
  p.pack(0);
  p.pack("incarnation");
  p.pack("x");
  p.pack("registrations");
  p.pack_array(static_cast<std::uint32_t>(registrations));
  for (std::size_t i = 0; i < registrations; ++i) {
    p.pack_map(4);
    p.pack("channel");
    p.pack("c");
    p.pack("dir");
    p.pack(dir);
    p.pack("pattern");
    p.pack("pipeline");
    p.pack("endpoint");
    p.pack(endpoint);
  }
  return {b.data(), b.size()};
}

TEST(DirectoryProtocol, BadRegistrationFieldIsLocated) {
  DirectoryRequest out;
  auto st = decode(bytes(register_frame("a", 1, "tcp://x:1", "sideways")), out);
  EXPECT_EQ(st.error, "registrations[0].dir: expected 'in' or 'out', got 'sideways'");
}

TEST(DirectoryProtocol, DeepNestingIsRefused) {
  std::string deep(200, '\x91');
  deep.push_back('\x01');
  DirectoryRequest out;
  auto st = decode(bytes(deep), out);
  EXPECT_FALSE(st);
  EXPECT_NE(st.error.find("limits"), std::string::npos) << st.error;
}

TEST(DirectoryProtocol, StringsAndCountsAreBounded) {
  DirectoryRequest out;
  EXPECT_TRUE(
      decode(bytes(register_frame(std::string(255, 'n'), 1024, std::string(1024, 'e'))), out));
  EXPECT_EQ(decode(bytes(register_frame(std::string(256, 'n'), 1, "tcp://h:1")), out).error,
            "node: longer than 255 bytes");
  EXPECT_EQ(decode(bytes(register_frame("n", 1, std::string(1025, 'e'))), out).error,
            "registrations[0].endpoint: longer than 1024 bytes");
  EXPECT_EQ(decode(bytes(register_frame("n", 1025, "tcp://h:1")), out).error,
            "registrations: more than 1024 elements");
}

TEST(DirectoryProtocol, FramesOverTheSizeLimitAreRefusedUnread) {
  DirectoryRequest request;
  const std::string huge(kMaxDirectoryFrame + 1, '\x80');
  const ProtocolStatus st = decode(bytes(huge), request);
  EXPECT_EQ(st.error, "request is 4194305 bytes, more than the limit of 4194304 bytes");
  EXPECT_EQ(st.code, DirectoryErrc::kTooLarge);
  DirectoryUpdate update;
  EXPECT_EQ(decode(bytes(huge), update).error,
            "update is 4194305 bytes, more than the limit of 4194304 bytes");
}

// The token of a register, heartbeat and unregister travels to the directory; without one the
// request is what it was before tokens existed; one longer than kMaxDirectoryToken is refused,
// naming the field but not echoing the value.
TEST(DirectoryProtocol, TokensRoundTripAndAreBounded) {
  const std::string token(32, 'c');
  RegisterRequest reg = sample_register();
  reg.token = token;
  std::vector<DirectoryRequestBody> bodies{
      reg, HeartbeatRequest{"product", 3, "0123456789abcdef", {}, "", token},
      UnregisterRequest{"product", 3, "0123456789abcdef", "shop", token}};
  for (const auto& body : bodies) {
    DirectoryRequest out;
    ASSERT_TRUE(decode(bytes(encode(DirectoryRequest{1, body})), out)) << op_name(body);
    std::visit(
        [&](const auto& r) {
          if constexpr (requires { r.token; }) {
            EXPECT_EQ(r.token, token) << op_name(body);
          } else {
            ADD_FAILURE() << op_name(body) << " has no token";
          }
        },
        out.body);
  }
  EXPECT_EQ(encode(DirectoryRequest{1, sample_register()}).find("token"), std::string::npos)
      << "a request without a token is as it was before tokens";
  DirectoryRequest out;
  ASSERT_TRUE(decode(bytes(encode(DirectoryRequest{1, sample_register()})), out));
  EXPECT_EQ(std::get<RegisterRequest>(out.body).token, "");

  const std::string too_long(kMaxDirectoryToken + 1, 'x');
  for (DirectoryRequestBody body : std::vector<DirectoryRequestBody>{
           RegisterRequest{reg.node, 0, "i", "", 0, 0, {}, "", too_long},
           HeartbeatRequest{"product", 3, "i", {}, "", too_long},
           UnregisterRequest{"product", 3, "i", "", too_long}}) {
    const auto st = decode(bytes(encode(DirectoryRequest{1, body})), out);
    ASSERT_FALSE(st) << op_name(body);
    EXPECT_EQ(st.code, DirectoryErrc::kBadRequest);
    EXPECT_NE(st.error.find("token: longer than 64 bytes"), std::string::npos) << st.error;
    EXPECT_EQ(st.error.find(too_long), std::string::npos) << st.error;
  }
  reg.token = std::string(kMaxDirectoryToken, 'x');
  EXPECT_TRUE(decode(bytes(encode(DirectoryRequest{1, reg})), out)) << "64 bytes are allowed";
}

TEST(DirectoryProtocol, PushIsAskedGrantedAndOtherwiseAbsent) {
  DirectoryRequest out;
  ASSERT_TRUE(decode(bytes(encode(DirectoryRequest{1, HelloRequest{true}})), out));
  EXPECT_TRUE(std::get<HelloRequest>(out.body).push);
  RegisterRequest reg = sample_register();
  reg.push = true;
  ASSERT_TRUE(decode(bytes(encode(DirectoryRequest{2, reg})), out));
  EXPECT_TRUE(std::get<RegisterRequest>(out.body).push);
  EXPECT_EQ(std::get<RegisterRequest>(out.body).registrations.size(), 3u);

  const DirectoryState st{"e", 1, 2, true};
  DirectoryReply reply;
  ASSERT_TRUE(decode(
      bytes(encode(DirectoryReply{3, HelloReply{st, "tcp://h:1", 3000, 1000, true}})), reply));
  EXPECT_TRUE(std::get<HelloReply>(reply.body).push);
  EXPECT_EQ(std::get<HelloReply>(reply.body).pub_endpoint, "tcp://h:1");

  // Without it, every frame is as it was before push: a directory or client before it reads
  // them unchanged, and a reply from such a directory means no push.
  for (const std::string& frame :
       {encode(DirectoryRequest{1, HelloRequest{}}), encode(DirectoryRequest{2, sample_register()}),
        encode(DirectoryReply{3, HelloReply{st, "tcp://h:1", 3000, 1000}})}) {
    EXPECT_EQ(frame.find("push"), std::string::npos);
  }
  ASSERT_TRUE(
      decode(bytes(encode(DirectoryReply{3, HelloReply{st, "tcp://h:1", 3000, 1000}})), reply));
  EXPECT_FALSE(std::get<HelloReply>(reply.body).push);
  const std::string wrong = test::pack_map({{"v", std::int64_t{3}},
                                            {"op", std::string("hello")},
                                            {"id", std::int64_t{1}},
                                            {"push", std::string("yes")}});
  EXPECT_FALSE(decode(bytes(wrong), out)) << "a push that is not a bool";
}

}  // namespace
}  // namespace brook
