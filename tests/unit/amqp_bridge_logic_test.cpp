// The RabbitMQ bridges' plain logic (nodes/amqp_common/amqp_bridge_logic.hpp): URL parsing,
// backoff, params, the envelope <-> AMQP message mapping both ways, and amqp-in's
// de-duplication of redeliveries (amqp_dedupe.hpp).
#include "amqp_bridge_logic.hpp"

#include <gtest/gtest.h>

#include <brook/envelope_codec.hpp>
#include <brook/error.hpp>
#include <msgpack.hpp>
#include <nlohmann/json.hpp>

#include "amqp_dedupe.hpp"

namespace brook::amqp {
namespace {

using namespace std::chrono_literals;

std::span<const std::byte> bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

msgpack::object_handle unpack(const std::vector<std::byte>& b) {
  return msgpack::unpack(reinterpret_cast<const char*>(b.data()), b.size());
}

TEST(AmqpUrl, ParsesEveryPart) {
  const Url u = parse_url("amqp://bob:s%40cret@mq.example:5673/shop%2fprod");
  EXPECT_EQ(u.user, "bob");
  EXPECT_EQ(u.password, "s@cret");
  EXPECT_EQ(u.host, "mq.example");
  EXPECT_EQ(u.port, 5673);
  EXPECT_EQ(u.vhost, "shop/prod");
  EXPECT_EQ(u.redacted(), "amqp://bob:***@mq.example:5673/shop/prod");
}

TEST(AmqpUrl, DefaultsAndTheDefaultVhost) {
  const Url u = parse_url("amqp://127.0.0.1");
  EXPECT_EQ(u.user, "guest");
  EXPECT_EQ(u.password, "guest");
  EXPECT_EQ(u.port, 5672);
  EXPECT_EQ(u.vhost, "/");
  EXPECT_EQ(parse_url("amqp://h/").vhost, "/");
  EXPECT_EQ(parse_url("amqp://h/%2f").vhost, "/");
}

TEST(AmqpUrl, RefusesWhatIsNotOne) {
  for (const char* bad : {"http://h", "amqp://", "amqp://h:0", "amqp://h:99999", "amqp://h:x",
                          "amqp://u:p@h/%zz", "amqp://u:p@h/%2"}) {
    EXPECT_THROW((void)parse_url(bad), ConfigError) << bad;
  }
  try {
    (void)parse_url("amqp://h:x");
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("expected amqp://user:password@host:port/vhost"),
              std::string::npos);
  }
}

TEST(AmqpBackoff, DoublesUpToItsBoundAndResets) {
  Backoff b(100ms, 700ms);
  EXPECT_EQ(b.next(), 100ms);
  EXPECT_EQ(b.next(), 200ms);
  EXPECT_EQ(b.next(), 400ms);
  EXPECT_EQ(b.next(), 700ms);
  EXPECT_EQ(b.next(), 700ms);
  b.reset();
  EXPECT_EQ(b.next(), 100ms);
}

TEST(AmqpSettings, ReadsParamsWithDefaults) {
  const Settings d = read_settings(Params::parse("{}"));
  EXPECT_EQ(d.url.port, 5672);
  EXPECT_FALSE(d.routing_key);
  EXPECT_EQ(d.content_type, "application/msgpack");
  EXPECT_TRUE(d.persistent);
  EXPECT_EQ(d.dedupe, 65536u);
  EXPECT_EQ(read_settings(Params::parse("{dedupe: 0}")).dedupe, 0u);
  EXPECT_THROW((void)read_settings(Params::parse("{dedupe: 100000000}")), ConfigError);
  const Settings s = read_settings(Params::parse(
      "{url: 'amqp://a:b@h:1/v', exchange: ex, routing_key: fixed, queue: q, durable: false, "
      "prefetch: 10, persistent: false, content_type: application/json}"));
  EXPECT_EQ(s.url.host, "h");
  EXPECT_EQ(s.exchange, "ex");
  EXPECT_EQ(*s.routing_key, "fixed");
  EXPECT_FALSE(s.durable);
  EXPECT_EQ(s.prefetch, 10);
  EXPECT_FALSE(s.persistent);
  EXPECT_THROW((void)read_settings(Params::parse("{prefetch: 0}")), ConfigError);
  EXPECT_THROW((void)read_settings(Params::parse("{url: 'nope'}")), ConfigError);
}

// An envelope as a consumer sees it, made through the codec.
struct Decoded {
  std::vector<std::byte> frame;
  EnvelopeView view;
};

Decoded envelope(bool with_key, const std::vector<Header>& headers) {
  OutgoingEnvelope e;
  e.producer = "client.0@abc";
  e.seq = 42;
  e.channel = "baskets";
  e.type = "shop.Basket";
  if (with_key) e.key = "b-7";
  e.trace[0] = std::byte{0xab};
  e.headers = headers;
  EnvelopeEncoder enc;
  const auto frame = enc.encode(e, std::string("hi"));
  Decoded d;
  d.frame.assign(frame.begin(), frame.end());
  EXPECT_TRUE(decode_envelope(d.frame, Limits{}, d.view));
  return d;
}

TEST(AmqpMapping, ASampledEnvelopeHandsItsTraceContextOn) {
  OutgoingEnvelope e;
  e.producer = "client.0@abc";
  e.seq = 42;
  e.channel = "baskets";
  e.type = "shop.Basket";
  e.trace[0] = std::byte{0xab};
  e.parent_span[7] = std::byte{0x07};
  e.trace_flags = kTraceSampled;
  EnvelopeEncoder enc;
  const auto frame = enc.encode(e, std::string("hi"));
  EnvelopeView v;
  ASSERT_TRUE(decode_envelope(frame, Limits{}, v));
  const Outgoing o = to_amqp(v, Settings{});
  std::map<std::string, std::string> h(o.props.headers.begin(), o.props.headers.end());
  EXPECT_EQ(h["traceparent"], "00-ab000000000000000000000000000000-0000000000000007-01");
}

TEST(AmqpMapping, EnvelopeToAmqp) {
  const std::vector<Header> tenant{{"tenant", "t1"}};
  const Decoded d = envelope(true, tenant);
  Settings s;
  const Outgoing o = to_amqp(d.view, s);
  EXPECT_EQ(o.routing_key, "b-7");
  EXPECT_EQ(o.props.message_id, "client.0@abc/42");
  EXPECT_EQ(o.props.type, "shop.Basket");
  EXPECT_EQ(o.props.content_type, "application/msgpack");
  EXPECT_TRUE(o.props.persistent);
  std::map<std::string, std::string> h(o.props.headers.begin(), o.props.headers.end());
  EXPECT_EQ(h["tenant"], "t1");
  EXPECT_EQ(h["brook-key"], "b-7");
  ASSERT_EQ(h["traceparent"].size(), 55u);
  EXPECT_EQ(h["traceparent"].substr(0, 5), "00-ab");
  EXPECT_EQ(h["traceparent"], traceparent(d.view.trace, "client.0@abc", 42));  // stable

  s.routing_key = "fixed";
  EXPECT_EQ(to_amqp(d.view, s).routing_key, "fixed");
  // A traceparent the envelope carries (from an earlier hop) is kept as it is.
  const std::vector<Header> tp{{"traceparent", "00-11-22-01"}};
  const Decoded t = envelope(false, tp);
  const Outgoing ot = to_amqp(t.view, Settings{});
  EXPECT_EQ(ot.routing_key, "");
  EXPECT_EQ(std::count_if(ot.props.headers.begin(), ot.props.headers.end(),
                          [](const auto& kv) { return kv.first == "traceparent"; }),
            1);
}

TEST(AmqpMapping, AmqpToEnvelopeAndBack) {
  Properties p;
  p.message_id = "client.0@abc/42";
  p.type = "shop.Basket";
  p.content_type = "application/msgpack";
  p.headers = {{"brook-key", "b-7"}, {"traceparent", "00-ab-cd-01"}, {"tenant", "t1"}};
  msgpack::sbuffer payload;
  msgpack::pack(payload, 5);
  const Incoming in =
      from_amqp(p, "ignored", bytes(std::string_view(payload.data(), payload.size())), Settings{});
  EXPECT_EQ(in.type, "shop.Basket");
  EXPECT_EQ(*in.key, "b-7");
  EXPECT_EQ(unpack(in.payload)->as<int>(), 5);
  std::map<std::string, std::string> h(in.headers.begin(), in.headers.end());
  EXPECT_EQ(h["traceparent"], "00-ab-cd-01");
  EXPECT_EQ(h["tenant"], "t1");
  EXPECT_EQ(h["amqp-message-id"], "client.0@abc/42");
  EXPECT_EQ(h.count("brook-key"), 0u);
  // Without a type or a key header: the settings' type, the routing key.
  const Incoming bare = from_amqp(Properties{}, "rk", bytes("x"), Settings{});
  EXPECT_EQ(bare.type, "amqp.Message");
  EXPECT_EQ(*bare.key, "rk");
  EXPECT_FALSE(from_amqp(Properties{}, "", bytes("x"), Settings{}).key);
}

TEST(AmqpBody, MsgpackAsIsJsonConvertedOtherwiseBin) {
  msgpack::sbuffer packed;
  msgpack::pack(packed, std::map<std::string, int>{{"a", 1}});
  const std::string_view mp(packed.data(), packed.size());
  const auto same = body_to_payload("application/msgpack", bytes(mp));
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(same.data()), same.size()), mp);

  const auto json = body_to_payload("application/json; charset=utf-8", bytes(R"({"a":1})"));
  EXPECT_EQ((unpack(json)->as<std::map<std::string, int>>()),
            (std::map<std::string, int>{{"a", 1}}));

  for (const char* type : {"text/plain", "", "application/json", "application/msgpack"}) {
    // Not JSON, not one msgpack object (a truncated map): kept as bytes in a bin.
    const auto bin = body_to_payload(type, bytes("\x82{x"));
    const auto h = unpack(bin);
    ASSERT_EQ(h->type, msgpack::type::BIN) << type;
    EXPECT_EQ(std::string_view(h->via.bin.ptr, h->via.bin.size), "\x82{x") << type;
  }
}

using Verdict = Dedupe::Verdict;

TEST(AmqpDedupe, AnAcknowledgedIdIsAckedAtOnceNotEmittedAgain) {
  Dedupe d(8);
  ASSERT_EQ(d.check("p/1", {1, 10}), Verdict::kEmit);
  d.emitted("p/1");
  EXPECT_TRUE(d.acknowledged("p/1").empty());
  // The broker restarted and redelivers it on the next connection.
  EXPECT_EQ(d.check("p/1", {2, 3}), Verdict::kAckNow);
  EXPECT_EQ(d.check("p/1", {3, 1}), Verdict::kAckNow);
  EXPECT_EQ(d.duplicates(), 2u);
  EXPECT_EQ(d.check("p/2", {3, 2}), Verdict::kEmit);
}

TEST(AmqpDedupe, AnIdInFlightAcksItsRedeliveriesWithItsReceipt) {
  Dedupe d(8);
  ASSERT_EQ(d.check("p/1", {1, 10}), Verdict::kEmit);
  d.emitted("p/1");
  EXPECT_EQ(d.check("p/1", {2, 4}), Verdict::kAckLater);
  EXPECT_EQ(d.check("p/1", {3, 7}), Verdict::kAckLater);
  EXPECT_EQ(d.acknowledged("p/1"), (std::vector<DeliveryTag>{{2, 4}, {3, 7}}));
  EXPECT_TRUE(d.acknowledged("p/1").empty());
  EXPECT_EQ(d.check("p/1", {3, 9}), Verdict::kAckNow);
  EXPECT_EQ(d.duplicates(), 3u);
}

TEST(AmqpDedupe, WhatWasNotEmittedLeavesNoTrace) {
  // An emit that threw (backpressure) or a delivery dropped with its connection: the next
  // delivery of the id must be emitted.
  Dedupe d(8);
  EXPECT_EQ(d.check("p/1", {1, 1}), Verdict::kEmit);
  EXPECT_EQ(d.check("p/1", {2, 1}), Verdict::kEmit);
  EXPECT_EQ(d.size(), 0u);
  EXPECT_EQ(d.duplicates(), 0u);
}

TEST(AmqpDedupe, NoIdOrOffIsNeverDeduplicated) {
  Dedupe d(8);
  d.emitted("");
  EXPECT_EQ(d.check("", {1, 1}), Verdict::kEmit);
  EXPECT_EQ(d.size(), 0u);
  Dedupe off(0);
  off.emitted("p/1");
  EXPECT_EQ(off.check("p/1", {1, 2}), Verdict::kEmit);
  EXPECT_EQ(off.size(), 0u);
}

TEST(AmqpDedupe, ForgetsTheOldestFirstWithinItsBound) {
  Dedupe d(3);
  for (const char* id : {"a", "b", "c", "d"})
    d.emitted(id);
  EXPECT_EQ(d.size(), 3u);
  EXPECT_EQ(d.check("a", {1, 1}), Verdict::kEmit);  // forgotten: emitted again
  for (const char* id : {"b", "c", "d"})
    EXPECT_EQ(d.check(id, {1, 2}), Verdict::kAckLater) << id;
  d.emitted("b");  // already held: not a new entry, forgets nothing
  EXPECT_EQ(d.size(), 3u);
  EXPECT_TRUE(d.take_orphans().empty());
  // "b" still in flight with a redelivery waiting when it is forgotten: that delivery is handed
  // back to be acknowledged (the emission in flight carries the message).
  d.emitted("e");
  EXPECT_EQ(d.take_orphans(), (std::vector<DeliveryTag>{{1, 2}}));
  EXPECT_TRUE(d.acknowledged("b").empty());
  EXPECT_EQ(d.check("b", {1, 3}), Verdict::kEmit);
  for (int i = 0; i < 1000; ++i)
    d.emitted("x" + std::to_string(i));
  EXPECT_EQ(d.size(), 3u);
  EXPECT_EQ(d.check("x999", {1, 4}), Verdict::kAckLater);
  EXPECT_EQ(d.check("x996", {1, 5}), Verdict::kEmit);
}

}  // namespace
}  // namespace brook::amqp
