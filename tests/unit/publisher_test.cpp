// The pubsub sender over real sockets on 127.0.0.1: held until opened, welcomes for subscribers
// that say hello, and a full subscriber made visible (XPUB_NODROP) instead of a silent drop.
#include "runtime/publisher.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <zmq.hpp>

#include "runtime/socket_setup.hpp"
#include "wire/control_frames.hpp"

namespace brook::detail {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class PublisherTest : public ::testing::Test {
 protected:
  PublisherTest() {
    ch.name = "ticks";
    ch.pattern = Pattern::kPubsub;
    ch.max_pending = 3;
    sub.set(zmq::sockopt::linger, 0);
    sub.set(zmq::sockopt::subscribe, "ticks");
    sub.set(zmq::sockopt::subscribe, hello_topic("printer.0@x"));
    sub.bind("tcp://127.0.0.1:*");
    entry.node = "printer";
    entry.incarnation = "x";
    entry.reg.channel = "ticks";
    entry.reg.endpoint = sub.get(zmq::sockopt::last_endpoint);
  }

  // Serves the publisher's socket (subscriptions) and the subscriber's (a bound SUB sends its
  // subscriptions once it is used) until `done()`, 2 s at most.
  template <class Done>
  bool pump(Publisher& p, std::uint64_t next_seq, Done done) {
    const auto deadline = Clock::now() + 2s;
    while (!done() && Clock::now() < deadline) {
      (void)sub.get(zmq::sockopt::events);
      zmq::pollitem_t item{p.socket().handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, 10ms) > 0) p.on_readable(next_seq);
    }
    return done();
  }

  // The next [topic, body] the subscriber gets within 2 s.
  std::pair<std::string, std::string> next() {
    zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, 2000ms) == 0) return {};
    zmq::message_t topic;
    zmq::message_t body;
    (void)sub.recv(topic);
    (void)sub.recv(body);
    return {topic.to_string(), body.to_string()};
  }

  zmq::context_t ctx{1};
  Security security;
  ChannelSpec ch;
  zmq::socket_t sub{ctx, zmq::socket_type::sub};
  DirectoryEntry entry;
};

TEST_F(PublisherTest, WelcomesASubscriberWithTheFirstNumberItWillSee) {
  Publisher p(ctx, ch, "ticker.0@a", 0ms, security);
  p.add_subscriber(entry);
  ASSERT_TRUE(pump(p, 7, [&] { return p.node_welcomed("printer"); }));
  EXPECT_TRUE(p.all_welcomed());
  const auto [topic, body] = next();
  EXPECT_EQ(topic, hello_topic("printer.0@x"));
  Welcome w;
  std::string why;
  ASSERT_TRUE(
      decode_welcome({reinterpret_cast<const std::byte*>(body.data()), body.size()}, w, why))
      << why;
  EXPECT_EQ(w.publisher, "ticker.0@a");
  EXPECT_EQ(w.channel, "ticks");
  EXPECT_EQ(w.next_seq, 7u);
}

TEST_F(PublisherTest, RemembersBoundedHelloIdsAndForgetsThemWhenTheSubscriberLeaves) {
  ChannelSpec roomy = ch;
  roomy.hwm = 10000;  // the subscriptions travel through the pipes too
  Publisher p(ctx, roomy, "ticker.0@a", 0ms, security);
  // A hostile (or broken) subscriber: subscribes to 5000 hello topics and reads nothing.
  zmq::socket_t hostile(ctx, zmq::socket_type::sub);
  hostile.set(zmq::sockopt::linger, 0);
  hostile.set(zmq::sockopt::sndhwm, 10000);
  for (int i = 0; i < 5000; ++i)
    hostile.set(zmq::sockopt::subscribe, hello_topic("ghost.0@" + std::to_string(i)));
  hostile.bind("tcp://127.0.0.1:*");
  DirectoryEntry ghost = entry;
  ghost.node = "ghost";
  ghost.reg.endpoint = hostile.get(zmq::sockopt::last_endpoint);
  p.add_subscriber(ghost);
  const auto deadline = Clock::now() + 5s;
  while (p.welcomed().size() < 4096 && Clock::now() < deadline) {
    (void)hostile.get(zmq::sockopt::events);
    zmq::pollitem_t item{p.socket().handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, 10ms) > 0) p.on_readable(1);
  }
  (void)pump(p, 1, [] { return false; });  // the rest of its hellos arrive, and are refused
  EXPECT_EQ(p.welcomed().size(), 4096u) << "at most 4096 hello ids remembered";
  // A listed subscriber is still welcomed.
  p.add_subscriber(entry);
  ASSERT_TRUE(pump(p, 1, [&] { return p.node_welcomed("printer"); }));
  EXPECT_EQ(p.welcomed().size(), 4097u);
  // The directory says the hostile subscriber left: its hello ids go with its connection.
  p.remove_subscriber(ghost);
  ASSERT_TRUE(pump(p, 1, [&] { return p.welcomed().size() == 1; })) << p.welcomed().size();
  EXPECT_TRUE(p.node_welcomed("printer"));
}

TEST_F(PublisherTest, HoldsMessagesUntilOpenedThenPublishesThemInOrder) {
  Publisher p(ctx, ch, "ticker.0@a", 0ms, security);
  p.add_subscriber(entry);
  ASSERT_TRUE(pump(p, 1, [&] { return p.all_welcomed(); }));
  (void)next();  // the welcome
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    zmq::message_t m(std::to_string(seq).data(), 1);
    ASSERT_EQ(p.offer(seq, m), Offer::kQueued);
  }
  zmq::message_t fourth("4", 1);
  EXPECT_EQ(p.offer(4, fourth), Offer::kFull) << "max_pending is 3";
  EXPECT_EQ(p.offer(4, fourth, true), Offer::kQueued) << "forced: admitted already";
  p.open();
  EXPECT_EQ(p.flush(), 4u);
  for (const char* want : {"1", "2", "3", "4"}) {
    const auto [topic, body] = next();
    EXPECT_EQ(topic, "ticks");
    EXPECT_EQ(body, want);
  }
}

TEST_F(PublisherTest, AFullSubscriberHoldsMessagesInsteadOfDroppingThem) {
  ch.hwm = 1;
  ch.max_pending = 100000;
  sub.set(zmq::sockopt::rcvhwm, 1);
  Publisher p(ctx, ch, "ticker.0@a", 0ms, security);
  p.add_subscriber(entry);
  ASSERT_TRUE(pump(p, 1, [&] { return p.all_welcomed(); }));
  p.open();
  // Nobody reads: the pipe and the TCP buffers fill, then offers queue (never a silent drop).
  const std::string payload(1024, 'x');
  std::uint64_t seq = 1;
  for (; seq <= 50000 && p.pending() == 0; ++seq) {
    zmq::message_t m(payload.data(), payload.size());
    ASSERT_NE(p.offer(seq, m), Offer::kFull);
  }
  ASSERT_GT(p.pending(), 0u) << "the subscriber's pipe never filled";
  // Reading everything delivers every message, held ones included, in order.
  (void)next();  // the welcome
  std::uint64_t expected = 1;
  const auto deadline = Clock::now() + 10s;
  while (expected < seq && Clock::now() < deadline) {
    (void)p.flush();
    zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, 10ms) == 0) continue;
    zmq::message_t topic;
    zmq::message_t body;
    (void)sub.recv(topic);
    (void)sub.recv(body);
    ++expected;
  }
  EXPECT_EQ(expected, seq) << "every message arrived";
  EXPECT_EQ(p.pending(), 0u);
}

}  // namespace
}  // namespace brook::detail
