// The delivery tracker's bookkeeping with a real at-least-once receiver: chained
// acknowledgements, retries that own their message, dead letters with the reason.
#include "runtime/delivery_tracker.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "runtime/reliable_receiver.hpp"
#include "wire/control_frames.hpp"

namespace brook::detail {
namespace {

using namespace std::chrono_literals;
const ListenAddress kLoopback{"127.0.0.1", "127.0.0.1"};

class DeliveryTrackerTest : public ::testing::Test {
 protected:
  DeliveryTrackerTest() {
    ch.name = "work";
    ch.retry.max_attempts = 2;
    ch.retry.initial = 10ms;
    ch.dead_letter = "work-dead";
    PortSpec p;
    p.port = "in";
    p.channel = "work";
    in = std::make_unique<ReliableReceiver>(ctx, p, ch, kLoopback, 0ms, counters, security);
    producer.set(zmq::sockopt::linger, 0);
    producer.connect(in->endpoint());
    producer.send(zmq::str_buffer("x"));
    // The receiver learns the producer's routing id from a real message.
    zmq::message_t body;
    std::string why;
    for (int i = 0; i < 100 && peer.empty(); ++i) {
      zmq::pollitem_t item{in->socket().handle(), 0, ZMQ_POLLIN, 0};
      (void)zmq::poll(&item, 1, 20ms);
      (void)in->receive(body, peer, why);
    }
    env.id = MessageId{"p.0@a", 5};
    env.channel = "work";
  }

  // Acknowledgements the producer got within `wait`.
  std::vector<std::uint64_t> acks(std::chrono::milliseconds wait = 500ms) {
    in->flush_acks();
    std::vector<std::uint64_t> all;
    zmq::pollitem_t item{producer.handle(), 0, ZMQ_POLLIN, 0};
    while (zmq::poll(&item, 1, wait) > 0) {
      zmq::message_t m;
      (void)producer.recv(m);
      std::vector<std::uint64_t> seqs;
      EXPECT_TRUE(decode_ack({static_cast<const std::byte*>(m.data()), m.size()}, seqs));
      all.insert(all.end(), seqs.begin(), seqs.end());
      wait = 0ms;
    }
    return all;
  }

  DeliveryTracker tracker{
      [this](DeliveryTracker::Attempt& a, std::uint32_t attempts, const std::string& error) {
        dead.push_back(std::to_string(a.env.id.seq) + " after " + std::to_string(attempts) + ": " +
                       error);
        if (chain_dead_letters) {
          dead_letter_tag = tracker.chain(a);
          tracker.emitted(a, 1);
        }
        return true;
      }};
  bool chain_dead_letters = false;  // the dead letter is taken by a group that acknowledges
  std::uint64_t dead_letter_tag = 0;
  zmq::context_t ctx{1};
  Security security;
  ChannelCounters counters;
  ChannelSpec ch;
  std::unique_ptr<ReliableReceiver> in;
  zmq::socket_t producer{ctx, zmq::socket_type::dealer};
  std::string peer;
  EnvelopeView env;
  std::vector<std::string> dead;
};

TEST_F(DeliveryTrackerTest, AMessageWithoutAcknowledgedOutputIsAcknowledgedAtOnce) {
  DeliveryTracker::Attempt a{*in, env, peer};
  (void)tracker.chain(a);
  tracker.emitted(a, 0);  // taken by nobody that acknowledges
  tracker.settle(a);
  EXPECT_EQ(acks(), std::vector<std::uint64_t>{5});
}

TEST_F(DeliveryTrackerTest, AMessageIsAcknowledgedOnlyOnceEverythingItEmittedIs) {
  DeliveryTracker::Attempt a{*in, env, peer};
  const std::uint64_t tag = tracker.chain(a);
  ASSERT_NE(tag, 0u);
  EXPECT_EQ(tracker.chain(a), tag) << "one tag for all the attempt emits";
  tracker.emitted(a, 2);  // two consumer groups took one message
  tracker.emitted(a, 1);  // one group took another
  tracker.settle(a);
  EXPECT_TRUE(acks(100ms).empty());
  tracker.acked(tag);
  tracker.acked(tag);
  tracker.acked(0);  // an untagged message's ack (a durable journal's replay) changes nothing
  EXPECT_TRUE(acks(100ms).empty()) << "one group has not acknowledged yet";
  tracker.acked(tag);
  EXPECT_EQ(acks(), std::vector<std::uint64_t>{5});
  EXPECT_EQ(tracker.awaiting_acks(), 0u);
  tracker.acked(tag);  // a stale tag changes nothing

  // The slot is used again for the next message; the old tag does not reach it.
  EnvelopeView next = env;
  next.id.seq = 6;
  DeliveryTracker::Attempt b{*in, next, peer};
  const std::uint64_t tag_b = tracker.chain(b);
  EXPECT_NE(tag_b, tag);
  tracker.emitted(b, 1);
  tracker.settle(b);
  tracker.acked(tag);
  EXPECT_TRUE(acks(100ms).empty()) << "acknowledged by the previous message's tag";
  tracker.acked(tag_b);
  EXPECT_EQ(acks(), std::vector<std::uint64_t>{6});
}

TEST_F(DeliveryTrackerTest, AFailedAttemptIsRetriedThenDeadLetteredWithTheReason) {
  zmq::message_t frame("payload", 7);
  DeliveryTracker::Attempt first{*in, env, peer};
  const std::uint64_t tag = tracker.chain(first);
  tracker.emitted(first, 1);
  ASSERT_TRUE(tracker.failed(first, frame, "boom", false));  // attempt 1 of 2: retried
  EXPECT_EQ(counters.handler_errors, 1u);
  tracker.acked(tag);  // the failed attempt's earlier output no longer releases the message
  EXPECT_TRUE(acks(100ms).empty());
  EXPECT_EQ(tracker.retries_waiting(), 1u);

  std::vector<std::uint32_t> attempts;
  tracker.run_due(tracker.next_retry(), [&](Receiver& r, zmq::message_t& f, const std::string& p,
                                            std::uint32_t attempt) {
    EXPECT_EQ(&r, in.get());
    EXPECT_EQ(f.to_string(), "payload");
    EXPECT_EQ(p, peer);
    attempts.push_back(attempt);
    EnvelopeView retry = env;
    retry.attempt = attempt;
    DeliveryTracker::Attempt second{r, retry, p};
    EXPECT_FALSE(tracker.failed(second, f, "boom again", false));  // the last attempt
    tracker.settle(second);
  });
  EXPECT_EQ(attempts, std::vector<std::uint32_t>{2});
  EXPECT_EQ(dead, std::vector<std::string>{"5 after 2: boom again"});
  EXPECT_EQ(counters.dead_lettered, 1u);
  EXPECT_EQ(acks(), std::vector<std::uint64_t>{5}) << "failed for good: acknowledged";
}

TEST_F(DeliveryTrackerTest, AMessageIsAcknowledgedOnlyOnceItsDeadLetterIs) {
  chain_dead_letters = true;
  zmq::message_t frame("payload", 7);
  DeliveryTracker::Attempt a{*in, env, peer};
  ASSERT_TRUE(tracker.failed(a, frame, "boom", false));
  tracker.run_due(tracker.next_retry(),
                  [&](Receiver& r, zmq::message_t& f, const std::string& p, std::uint32_t attempt) {
                    EnvelopeView retry = env;
                    retry.attempt = attempt;
                    DeliveryTracker::Attempt last{r, retry, p};
                    EXPECT_FALSE(tracker.failed(last, f, "boom", false));
                    tracker.settle(last);
                  });
  EXPECT_TRUE(acks(100ms).empty()) << "the dead letter is not acknowledged yet";
  ASSERT_NE(dead_letter_tag, 0u);
  tracker.acked(dead_letter_tag);
  EXPECT_EQ(acks(), std::vector<std::uint64_t>{5});
}

TEST_F(DeliveryTrackerTest, NothingIsRetriedWhileStopping) {
  zmq::message_t frame("payload", 7);
  DeliveryTracker::Attempt a{*in, env, peer};
  EXPECT_FALSE(tracker.failed(a, frame, "boom", true));
  EXPECT_EQ(tracker.retries_waiting(), 0u);
  EXPECT_EQ(dead.size(), 1u);
}

TEST_F(DeliveryTrackerTest, AnUndecodablePayloadIsCountedAndDeadLettered) {
  DeliveryTracker::Attempt a{*in, env, peer};
  tracker.undecodable(a, "payload does not convert to Line", "tcp://127.0.0.1:1");
  tracker.settle(a);
  EXPECT_EQ(counters.decode_errors, 1u);
  EXPECT_EQ(dead, std::vector<std::string>{"5 after 1: payload does not convert to Line"});
  EXPECT_EQ(acks(), std::vector<std::uint64_t>{5});
}

TEST_F(DeliveryTrackerTest, AHeldMessageIsAcknowledgedWithTheMessageWhoseHandlerReleasedIt) {
  DeliveryTracker::Attempt held{*in, env, peer};
  const std::uint64_t token = tracker.hold(held);
  ASSERT_NE(token, 0u);
  tracker.settle(held);
  EXPECT_TRUE(acks(100ms).empty()) << "held";
  EXPECT_EQ(tracker.awaiting_acks(), 1u);
  EXPECT_EQ(tracker.awaiting_downstream(), 0u) << "a stopping node does not wait for holds";

  EnvelopeView completion = env;
  completion.id.seq = 6;
  DeliveryTracker::Attempt b{*in, completion, peer};
  const std::uint64_t tag = tracker.chain(b);
  tracker.emitted(b, 1);
  tracker.release_hold(token, &b);
  tracker.settle(b);
  EXPECT_TRUE(acks(100ms).empty()) << "the completion's output is not acknowledged yet";
  EXPECT_EQ(tracker.awaiting_downstream(), 1u);
  tracker.acked(tag);
  EXPECT_EQ(acks(), (std::vector<std::uint64_t>{6, 5}));
  EXPECT_EQ(tracker.awaiting_acks(), 0u);
  tracker.release_hold(token, nullptr);  // a stale token changes nothing
}

TEST_F(DeliveryTrackerTest, HoldsGoBackToTheProducerWhenGivenBackOrWhenTheReleaseFailed) {
  DeliveryTracker::Attempt a{*in, env, peer};
  const std::uint64_t given = tracker.hold(a);
  tracker.settle(a);
  tracker.give_back(given);
  EXPECT_EQ(counters.declined, 1u);
  EnvelopeView second = env;
  second.id.seq = 6;
  DeliveryTracker::Attempt b{*in, second, peer};
  const std::uint64_t released = tracker.hold(b);
  tracker.settle(b);
  // The releasing handler fails and a retry owns its message: the release is undone.
  EnvelopeView third = env;
  third.id.seq = 7;
  zmq::message_t frame("payload", 7);
  DeliveryTracker::Attempt c{*in, third, peer};
  tracker.release_hold(released, &c);
  ASSERT_TRUE(tracker.failed(c, frame, "boom", false));
  EXPECT_EQ(counters.declined, 2u);
  EXPECT_TRUE(acks(100ms).empty()) << "given back, never acknowledged";
  EXPECT_EQ(tracker.awaiting_acks(), 0u);
}

TEST_F(DeliveryTrackerTest, ReleasedOutsideAHandlerAHoldIsAcknowledgedAtOnce) {
  DeliveryTracker::Attempt a{*in, env, peer};
  const std::uint64_t one = tracker.hold(a);
  const std::uint64_t two = tracker.hold(a);
  tracker.settle(a);
  tracker.release_hold(one, nullptr);
  EXPECT_TRUE(acks(100ms).empty()) << "still held by the second hold";
  tracker.release_hold(two, nullptr);
  EXPECT_EQ(acks(), std::vector<std::uint64_t>{5});
}

}  // namespace
}  // namespace brook::detail
