// The receivers over real sockets on 127.0.0.1: frame structure, de-duplication and
// acknowledgements (reliable), welcomes and gaps (pubsub).
#include <gtest/gtest.h>

#include <chrono>
#include <msgpack.hpp>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "runtime/pull_receiver.hpp"
#include "runtime/reliable_receiver.hpp"
#include "runtime/socket_setup.hpp"
#include "runtime/sub_receiver.hpp"
#include "wire/control_frames.hpp"

namespace brook::detail {
namespace {

using namespace std::chrono_literals;
const ListenAddress kLoopback{"127.0.0.1", "127.0.0.1"};
using Received = Receiver::Received;

ChannelSpec channel(Pattern pattern, Delivery delivery) {
  ChannelSpec c;
  c.name = "work";
  c.pattern = pattern;
  c.delivery = delivery;
  return c;
}

PortSpec port() {
  PortSpec p;
  p.port = "in";
  p.channel = "work";
  return p;
}

EnvelopeView envelope(std::string_view producer, std::uint64_t seq) {
  EnvelopeView e;
  e.id = MessageId{producer, seq};
  e.channel = "work";
  return e;
}

// Receives within `wait` (the receiver reads with dontwait).
Received receive(Receiver& r, zmq::message_t& body, std::string& peer, std::string& why,
                 std::chrono::milliseconds wait = 2s) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    const Received got = r.receive(body, peer, why);
    if (got != Received::kNothing) return got;
    zmq::pollitem_t item{r.socket().handle(), 0, ZMQ_POLLIN, 0};
    (void)zmq::poll(&item, 1, 20ms);
  }
  return Received::kNothing;
}

class ReceiversTest : public ::testing::Test {
 protected:
  zmq::context_t ctx{1};
  Security security;
  ChannelCounters counters;
};

// A producer ("p.0@a") whose message 1 was handled and acknowledged on its first connection,
// then reconnected: `new_connection` speaks for it while `old_connection` is still open.
struct Reconnected : ReceiversTest {
  void SetUp() override {
    for (zmq::socket_t* s : {&old_connection, &new_connection}) {
      s->set(zmq::sockopt::linger, 0);
      s->connect(r.endpoint());
    }
    old_connection.send(zmq::str_buffer("1"));
    ASSERT_EQ(receive(r, body, peer, why), Received::kMessage);
    old_peer = peer;
    ASSERT_TRUE(r.admit(envelope("p.0@a", 1), peer, body));
    r.settle(envelope("p.0@a", 1).id, peer, Receiver::Settle::kAck);
  }

  ChannelSpec ch = channel(Pattern::kPipeline, Delivery::kAtLeastOnce);
  ReliableReceiver r{ctx, port(), ch, kLoopback, 0ms, counters, security};
  zmq::socket_t old_connection{ctx, zmq::socket_type::dealer};
  zmq::socket_t new_connection{ctx, zmq::socket_type::dealer};
  std::string why;
  std::string peer;
  std::string old_peer;
  zmq::message_t body;
};

// `--bind 0.0.0.0 --advertise <address>`: the input listens everywhere and registers the address
// peers use, with the port it really got.
TEST_F(ReceiversTest, AnInputBoundToEveryAddressRegistersTheAdvertisedOne) {
  const ChannelSpec ch = channel(Pattern::kPipeline, Delivery::kBestEffort);
  PullReceiver r(ctx, port(), ch, ListenAddress{"0.0.0.0", "127.0.0.1"}, false, 0ms, counters,
                 security);
  ASSERT_TRUE(r.endpoint().starts_with("tcp://127.0.0.1:")) << r.endpoint();
  EXPECT_NE(r.endpoint(), "tcp://127.0.0.1:0");
  EXPECT_EQ(r.registration().endpoint, r.endpoint());
  zmq::socket_t push(ctx, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 0);
  push.connect(r.endpoint());
  push.send(zmq::str_buffer("hello"));
  zmq::message_t body;
  std::string peer;
  std::string why;
  ASSERT_EQ(receive(r, body, peer, why), Received::kMessage);
  EXPECT_EQ(body.to_string(), "hello");
}

TEST_F(ReceiversTest, AnAddressThatIsNotOfThisHostIsANamedBindError) {
  const ChannelSpec ch = channel(Pattern::kPipeline, Delivery::kBestEffort);
  try {
    PullReceiver r(ctx, port(), ch, ListenAddress{"192.0.2.77", "192.0.2.77"}, false, 0ms, counters,
                   security);
    FAIL() << "bound to an address of no interface";
  } catch (const ZmqError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot bind input port"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--bind"), std::string::npos) << e.what();
  }
}

TEST_F(ReceiversTest, PullTakesOneFrameAndReportsAMultipartMessageAsMalformed) {
  const ChannelSpec ch = channel(Pattern::kPipeline, Delivery::kBestEffort);
  PullReceiver r(ctx, port(), ch, kLoopback, false, 0ms, counters, security);
  EXPECT_FALSE(r.acknowledges());
  EXPECT_EQ(r.registration().endpoint, r.endpoint());
  zmq::socket_t push(ctx, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 0);
  push.connect(r.endpoint());
  push.send(zmq::str_buffer("a"), zmq::send_flags::sndmore);
  push.send(zmq::str_buffer("b"), zmq::send_flags::sndmore);
  push.send(zmq::str_buffer("c"));
  push.send(zmq::str_buffer("ok"));

  zmq::message_t body;
  std::string peer;
  std::string why;
  ASSERT_EQ(receive(r, body, peer, why), Received::kMalformed);
  EXPECT_EQ(why, "expected 1 frame, got 3");
  ASSERT_EQ(receive(r, body, peer, why), Received::kMessage);  // the next one starts clean
  EXPECT_EQ(body.to_string(), "ok");
  EXPECT_TRUE(peer.empty());
}

TEST_F(ReceiversTest, ReliableAcknowledgesOnceSettledAndAcknowledgesADuplicateAgain) {
  const ChannelSpec ch = channel(Pattern::kPipeline, Delivery::kAtLeastOnce);
  ReliableReceiver r(ctx, port(), ch, kLoopback, 0ms, counters, security);
  EXPECT_TRUE(r.acknowledges());
  zmq::socket_t producer(ctx, zmq::socket_type::dealer);
  producer.set(zmq::sockopt::linger, 0);
  producer.connect(r.endpoint());
  producer.send(zmq::str_buffer("envelope"));

  zmq::message_t body;
  std::string peer;
  std::string why;
  ASSERT_EQ(receive(r, body, peer, why), Received::kMessage);
  EXPECT_EQ(body.to_string(), "envelope");
  ASSERT_FALSE(peer.empty());

  const EnvelopeView env = envelope("p.0@a", 7);
  EXPECT_TRUE(r.admit(env, peer, body));
  r.settle(env.id, peer, Receiver::Settle::kAck);
  r.flush_acks();
  auto read_ack = [&] {
    zmq::pollitem_t item{producer.handle(), 0, ZMQ_POLLIN, 0};
    EXPECT_EQ(zmq::poll(&item, 1, 2000ms), 1);
    zmq::message_t ack;
    (void)producer.recv(ack);
    std::vector<std::uint64_t> seqs;
    EXPECT_TRUE(decode_ack({static_cast<const std::byte*>(ack.data()), ack.size()}, seqs));
    return seqs;
  };
  EXPECT_EQ(read_ack(), std::vector<std::uint64_t>{7});

  // The ack was lost: the producer re-sends; it is not handled again, only acknowledged.
  EXPECT_FALSE(r.admit(env, peer, body));
  EXPECT_EQ(counters.duplicates, 1u);
  r.flush_acks();
  EXPECT_EQ(read_ack(), std::vector<std::uint64_t>{7});
}

TEST_F(ReceiversTest, ADeferredMessageIsNeitherHandledAgainNorAcknowledgedUntilReleased) {
  const ChannelSpec ch = channel(Pattern::kPipeline, Delivery::kAtLeastOnce);
  ReliableReceiver r(ctx, port(), ch, kLoopback, 0ms, counters, security);
  zmq::socket_t producer(ctx, zmq::socket_type::dealer);
  producer.set(zmq::sockopt::linger, 0);
  producer.connect(r.endpoint());
  producer.send(zmq::str_buffer("hello"));
  zmq::message_t body;
  std::string peer;
  std::string why;
  ASSERT_EQ(receive(r, body, peer, why), Received::kMessage);

  const EnvelopeView env = envelope("p.0@a", 3);
  ASSERT_TRUE(r.admit(env, peer, body));
  r.settle(env.id, peer, Receiver::Settle::kDefer);
  EXPECT_FALSE(r.admit(env, peer, body));  // a re-send meanwhile
  r.flush_acks();
  zmq::pollitem_t item{producer.handle(), 0, ZMQ_POLLIN, 0};
  EXPECT_EQ(zmq::poll(&item, 1, 100ms), 0) << "no ack while deferred";

  r.release(peer, "p.0@a", 3);
  r.flush_acks();
  ASSERT_EQ(zmq::poll(&item, 1, 2000ms), 1);
}

TEST_F(ReceiversTest, WhatAProducerHandledIsRecordedPerConnectionSoNoOtherCanSilenceIt) {
  const ChannelSpec ch = channel(Pattern::kPipeline, Delivery::kAtLeastOnce);
  ReliableReceiver r(ctx, port(), ch, kLoopback, 0ms, counters, security);
  auto connect_and_send = [&](zmq::socket_t& s, std::string& peer, zmq::message_t& body) {
    s.set(zmq::sockopt::linger, 0);
    s.connect(r.endpoint());
    s.send(zmq::str_buffer("envelope"));
    std::string why;
    ASSERT_EQ(receive(r, body, peer, why), Received::kMessage);
  };
  zmq::socket_t squatter(ctx, zmq::socket_type::dealer);
  zmq::socket_t producer(ctx, zmq::socket_type::dealer);
  zmq::socket_t forger(ctx, zmq::socket_type::dealer);
  std::string squatter_peer;
  std::string producer_peer;
  std::string forger_peer;
  zmq::message_t squatter_body;
  zmq::message_t producer_body;
  zmq::message_t forger_body;
  connect_and_send(squatter, squatter_peer, squatter_body);
  connect_and_send(producer, producer_peer, producer_body);
  connect_and_send(forger, forger_peer, forger_body);
  const std::uint64_t huge = std::uint64_t{1} << 63;
  // A contested envelope is held: receive() hands it back once its connection may be judged
  // again (the first one closed, or a second passed). True once `admit` takes it.
  const auto handed_back_and_admitted = [&](const EnvelopeView& env, const std::string& peer) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      zmq::message_t held;
      std::string held_peer;
      std::string why;
      if (receive(r, held, held_peer, why, 50ms) != Received::kMessage) continue;
      EXPECT_EQ(held_peer, peer);
      if (r.admit(env, held_peer, held)) return true;
    }
    return false;
  };

  // A connection that claims the id before the real producer speaks does not silence it: the
  // producer's envelopes wait for the first connection to close, then get a record of their own.
  ASSERT_TRUE(r.admit(envelope("p.0@a", huge), squatter_peer, squatter_body));
  r.settle(envelope("p.0@a", huge).id, squatter_peer, Receiver::Settle::kAck);
  EXPECT_FALSE(r.admit(envelope("p.0@a", 1), producer_peer, producer_body))
      << "not at once: it may be the same producer, reconnecting";
  ASSERT_TRUE(handed_back_and_admitted(envelope("p.0@a", 1), producer_peer))
      << "the real producer's first message is handled";
  r.settle(envelope("p.0@a", 1).id, producer_peer, Receiver::Settle::kAck);
  // Nor does one that claims it afterwards with a huge number.
  EXPECT_FALSE(r.admit(envelope("p.0@a", huge), forger_peer, forger_body));
  ASSERT_TRUE(handed_back_and_admitted(envelope("p.0@a", huge), forger_peer));
  r.settle(envelope("p.0@a", huge).id, forger_peer, Receiver::Settle::kAck);
  EXPECT_TRUE(r.admit(envelope("p.0@a", 2), producer_peer, producer_body))
      << "the producer's next message is still handled";
  EXPECT_FALSE(r.admit(envelope("p.0@a", 1), producer_peer, producer_body)) << "a re-send is not";
  EXPECT_EQ(counters.duplicates, 1u);
  EXPECT_EQ(counters.forged, 0u) << "without CURVE nothing tells a forger from the producer";

  // Once the producer's connection is gone, its next connection takes its record over (a
  // reconnect): what it handled is still recognised.
  producer.close();
  zmq::socket_t again(ctx, zmq::socket_type::dealer);
  std::string again_peer;
  zmq::message_t again_body;
  connect_and_send(again, again_peer, again_body);
  EXPECT_FALSE(r.admit(envelope("p.0@a", 1), again_peer, again_body)) << "never handled again";
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (counters.duplicates < 2 && std::chrono::steady_clock::now() < deadline) {
    zmq::message_t held;
    std::string held_peer;
    std::string why;
    if (receive(r, held, held_peer, why, 50ms) != Received::kMessage) continue;
    EXPECT_FALSE(r.admit(envelope("p.0@a", 1), held_peer, held)) << "never handled again";
  }
  EXPECT_EQ(counters.duplicates, 2u) << "seq 1 recognised once the old connection is gone";
}

TEST_F(Reconnected, AReconnectingProducersEnvelopesAreHeldInOrderUntilItsOldConnectionCloses) {
  // Dropping the new connection's first envelopes while the old one is open, and handling its
  // later ones once it closed, would reorder the producer's stream (docs/reliability.md).
  // The producer reconnects: 1 (unacknowledged as far as it knows), 2, 3 on the new connection.
  for (const char* seq : {"1", "2", "3"})
    new_connection.send(zmq::buffer(std::string_view(seq)));
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(receive(r, body, peer, why), Received::kMessage);
    ASSERT_NE(peer, old_peer);
    EXPECT_FALSE(r.admit(envelope("p.0@a", std::stoull(body.to_string())), peer, body))
        << "held while the old connection is open";
  }
  EXPECT_NE(r.next_wakeup(), std::chrono::steady_clock::time_point::max());
  old_connection.close();
  std::vector<std::uint64_t> handled;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (handled.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    if (receive(r, body, peer, why, 50ms) != Received::kMessage) continue;
    const std::uint64_t seq = std::stoull(body.to_string());
    if (r.admit(envelope("p.0@a", seq), peer, body)) {
      handled.push_back(seq);
      r.settle(envelope("p.0@a", seq).id, peer, Receiver::Settle::kAck);
    }
  }
  EXPECT_EQ(handled, (std::vector<std::uint64_t>{2, 3})) << "in order, 1 recognised as handled";
  EXPECT_EQ(counters.duplicates, 1u);
  EXPECT_EQ(r.next_wakeup(), std::chrono::steady_clock::time_point::max()) << "none held";
}

TEST_F(Reconnected, AConsumerStoppedWhileAReconnectIsContestedStillWaitsForTheOldConnection) {
  // The contest grace counts only time the consumer watched. Counting a stop (SIGSTOP, a stall)
  // gave the new connection a fresh record as soon as the consumer resumed, with the old one
  // still open: what the old one had handled was handled again (the shop under TCP resets with
  // basket stopped 2.4 s: six baskets with every quantity doubled).
  for (const char* seq : {"1", "2"})
    new_connection.send(zmq::buffer(std::string_view(seq)));
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(receive(r, body, peer, why), Received::kMessage);
    EXPECT_FALSE(r.admit(envelope("p.0@a", std::stoull(body.to_string())), peer, body));
  }
  std::this_thread::sleep_for(1500ms);  // the consumer is stopped, longer than the grace
  ASSERT_EQ(receive(r, body, peer, why, 1s), Received::kMessage);
  EXPECT_FALSE(r.admit(envelope("p.0@a", std::stoull(body.to_string())), peer, body))
      << "held again: the old connection is still open and the stop does not count";
  old_connection.close();
  std::vector<std::uint64_t> handled;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (handled.empty() && std::chrono::steady_clock::now() < deadline) {
    if (receive(r, body, peer, why, 50ms) != Received::kMessage) continue;
    const std::uint64_t seq = std::stoull(body.to_string());
    if (r.admit(envelope("p.0@a", seq), peer, body)) {
      handled.push_back(seq);
      r.settle(envelope("p.0@a", seq).id, peer, Receiver::Settle::kAck);
    }
  }
  EXPECT_EQ(handled, (std::vector<std::uint64_t>{2})) << "1 recognised as handled";
  EXPECT_EQ(counters.duplicates, 1u);
}

TEST_F(ReceiversTest, ReliableReportsAFrameWithoutARoutingIdAsMalformed) {
  // A producer's ROUTER always sends [routing id, envelope]; a DEALER sending two frames
  // arrives as [id, a, b].
  const ChannelSpec ch = channel(Pattern::kPipeline, Delivery::kAtLeastOnce);
  ReliableReceiver r(ctx, port(), ch, kLoopback, 0ms, counters, security);
  zmq::socket_t producer(ctx, zmq::socket_type::dealer);
  producer.set(zmq::sockopt::linger, 0);
  producer.connect(r.endpoint());
  producer.send(zmq::str_buffer("a"), zmq::send_flags::sndmore);
  producer.send(zmq::str_buffer("b"));
  zmq::message_t body;
  std::string peer;
  std::string why;
  ASSERT_EQ(receive(r, body, peer, why), Received::kMalformed);
  EXPECT_EQ(why, "expected 2 frames (routing id, envelope), got 3");
}

TEST_F(ReceiversTest, SubCountsWhatAPublisherSkippedAfterItsWelcome) {
  const ChannelSpec ch = channel(Pattern::kPubsub, Delivery::kBestEffort);
  SubReceiver r(ctx, port(), ch, kLoopback, "me.0@x", false, 0ms, counters, security);
  DirectoryEntry pub;
  pub.node = "ticker";
  pub.incarnation = "i1";
  r.publisher_added(pub);
  EXPECT_EQ(r.waiting_for(), "ticker.0@i1");

  zmq::socket_t xpub(ctx, zmq::socket_type::xpub);
  xpub.set(zmq::sockopt::linger, 0);
  xpub.connect(r.endpoint());
  // The hello subscription reaches the publisher, which answers with a welcome from seq 10. (A
  // bound SUB sends its subscriptions to a new peer once its socket is used: receive() does.)
  zmq::message_t body;
  std::string peer;
  std::string why;
  zmq::pollitem_t item{xpub.handle(), 0, ZMQ_POLLIN, 0};
  std::string hello;
  for (int i = 0; i < 200 && hello.find("hello") == std::string::npos; ++i) {
    ASSERT_EQ(r.receive(body, peer, why), Received::kNothing);
    if (zmq::poll(&item, 1, 10ms) == 0) continue;
    zmq::message_t sub;
    (void)xpub.recv(sub);
    hello = sub.to_string();
  }
  ASSERT_NE(hello.find("hello"), std::string::npos);
  msgpack::sbuffer welcome;
  encode_welcome(Welcome{"ticker.0@i1", "work", 10}, welcome);
  xpub.send(zmq::buffer(hello_topic("me.0@x")), zmq::send_flags::sndmore);
  xpub.send(zmq::buffer(welcome.data(), welcome.size()));
  ASSERT_EQ(receive(r, body, peer, why), Received::kControl);
  EXPECT_EQ(r.waiting_for(), "");

  EXPECT_TRUE(r.admit(envelope("ticker.0@i1", 12), peer, body));  // 10 and 11 never came
  EXPECT_EQ(counters.gaps, 2u);
  EXPECT_TRUE(r.admit(envelope("ticker.0@i1", 13), peer, body));
  EXPECT_TRUE(r.admit(envelope("ticker.0@i1", 16), peer, body));
  EXPECT_EQ(counters.gaps, 4u);
}

TEST_F(ReceiversTest, SubReportsAnotherTopicAsMalformed) {
  const ChannelSpec ch = channel(Pattern::kPubsub, Delivery::kBestEffort);
  SubReceiver r(ctx, port(), ch, kLoopback, "me.0@x", false, 0ms, counters, security);
  zmq::socket_t pub(ctx, zmq::socket_type::pub);
  pub.set(zmq::sockopt::linger, 0);
  pub.connect(r.endpoint());
  zmq::message_t body;
  std::string peer;
  std::string why;
  // "workshop" matches the "work" subscription prefix but is not the channel.
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  Received got = Received::kNothing;
  while (got == Received::kNothing && std::chrono::steady_clock::now() < deadline) {
    pub.send(zmq::str_buffer("workshop"), zmq::send_flags::sndmore);
    pub.send(zmq::str_buffer("x"));
    got = receive(r, body, peer, why, 20ms);  // the first ones go before the subscription
  }
  ASSERT_EQ(got, Received::kMalformed);
  EXPECT_EQ(why, "topic 'workshop' is not channel 'work'");
}

}  // namespace
}  // namespace brook::detail
