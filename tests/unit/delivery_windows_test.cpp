// The at-least-once bookkeeping without sockets: the producer's in-flight window and the
// consumer's de-duplication window.
#include <gtest/gtest.h>

#include "runtime/dedupe_window.hpp"
#include "runtime/in_flight_window.hpp"

namespace brook::detail {
namespace {

using namespace std::chrono_literals;

zmq::message_t frame(const std::string& s) {
  return zmq::message_t(s.data(), s.size());
}

TEST(InFlightWindow, AcksFreeRoomInOrderOfTheOldestUnacknowledged) {
  InFlightWindow w(3);
  const auto now = InFlightWindow::Clock::now();
  for (std::uint64_t seq = 10; seq < 13; ++seq) {
    ASSERT_TRUE(w.has_room(seq));
    w.mark_sent(w.insert(seq, frame("m" + std::to_string(seq))), 1, now);
  }
  EXPECT_FALSE(w.has_room(13)) << "capacity is counted from the oldest unacknowledged";
  std::uint32_t replica = 0;
  EXPECT_TRUE(w.ack(11, replica));
  EXPECT_EQ(replica, 1u);
  EXPECT_FALSE(w.has_room(13)) << "10 still holds the window";
  EXPECT_FALSE(w.ack(11, replica)) << "a duplicate ack is ignored";
  EXPECT_TRUE(w.ack(10, replica));
  EXPECT_TRUE(w.has_room(13));
  EXPECT_TRUE(w.has_room(14));
  EXPECT_FALSE(w.has_room(15));
  EXPECT_EQ(w.in_flight(), 1u);
  EXPECT_EQ(w.stored(), 1u);
  ASSERT_NE(w.find(12), nullptr);
  EXPECT_EQ(w.find(12)->frame.to_string(), "m12");
}

TEST(InFlightWindow, ReleasesWhatADeadReplicaOrATimeoutHeld) {
  InFlightWindow w(100);
  const auto t0 = InFlightWindow::Clock::now();
  for (std::uint64_t seq = 1; seq <= 6; ++seq) {
    w.mark_sent(w.insert(seq, frame("x")), seq % 2 == 0 ? 2 : 3,
                t0 + std::chrono::milliseconds(seq));
  }
  std::vector<std::uint64_t> out;
  w.release(2, out);
  EXPECT_EQ(out, (std::vector<std::uint64_t>{2, 4, 6}));
  EXPECT_EQ(w.in_flight(), 3u);
  EXPECT_EQ(w.find(4)->replica, InFlightWindow::kUnsent);
  out.clear();
  std::vector<std::uint32_t> replicas;
  w.release_sent_before(t0 + 4ms, out, replicas);
  EXPECT_EQ(out, (std::vector<std::uint64_t>{1, 3})) << "5 was sent after the cutoff";
  EXPECT_EQ(replicas, (std::vector<std::uint32_t>{3, 3}));
  EXPECT_EQ(w.in_flight(), 1u);
}

TEST(InFlightWindow, KeepsEveryEntryWhileItsRingGrowsToTheCapacity) {
  InFlightWindow w(1000);
  const auto now = InFlightWindow::Clock::now();
  std::uint32_t replica = 0;
  // Acknowledge a scattering while filling, so the ring grows with holes and a moved base.
  for (std::uint64_t seq = 5; seq < 1005; ++seq) {
    ASSERT_TRUE(w.has_room(seq)) << seq;
    w.mark_sent(w.insert(seq, frame("m" + std::to_string(seq))), seq % 3 == 0 ? 2 : 1, now);
    if (seq % 7 == 0 && seq > 100) {
      ASSERT_TRUE(w.ack(seq - 50, replica));
    }
  }
  EXPECT_FALSE(w.has_room(1005)) << "5 is unacknowledged: 1000 from it is the limit";
  std::size_t stored = 0;
  for (std::uint64_t seq = 5; seq < 1005; ++seq) {
    const bool acked = (seq + 50) % 7 == 0 && seq + 50 > 100 && seq + 50 < 1005;
    InFlightWindow::Entry* e = w.find(seq);
    if (acked) {
      EXPECT_EQ(e, nullptr) << seq;
      continue;
    }
    ASSERT_NE(e, nullptr) << seq;
    EXPECT_EQ(e->frame.to_string(), "m" + std::to_string(seq));
    EXPECT_EQ(e->replica, seq % 3 == 0 ? 2u : 1u);
    ++stored;
  }
  EXPECT_EQ(w.stored(), stored);
  std::vector<std::uint64_t> out;
  w.release(2, out);
  EXPECT_EQ(w.in_flight(), stored - out.size());
  EXPECT_EQ(w.capacity(), 1000u);
}

TEST(DedupeWindow, RemembersWhatWasHandledWithinTheWindow) {
  DedupeWindow d(128);
  EXPECT_FALSE(d.handled(1));
  d.mark(5);
  d.mark(3);
  EXPECT_TRUE(d.handled(5));
  EXPECT_TRUE(d.handled(3));
  EXPECT_FALSE(d.handled(4)) << "a replica sees only its share: 4 went elsewhere";
  EXPECT_FALSE(d.handled(6));
  EXPECT_FALSE(d.mark(100)) << "within the window: no jump";
  for (std::uint64_t s = 101; s <= 300; ++s)
    d.mark(s);
  EXPECT_TRUE(d.handled(5)) << "slid past: treated as handled (a stale re-send)";
  EXPECT_TRUE(d.handled(150)) << "slid past, though never marked";
  d.mark(302);
  EXPECT_FALSE(d.handled(301)) << "inside the window and never marked";
}

TEST(DedupeWindow, AJumpBeyondTheWindowAssumesNothingAboutTheNumbersJumpedOver) {
  DedupeWindow d(128);
  for (std::uint64_t s = 1; s <= 300; ++s)
    d.mark(s);
  // A forged envelope (or a replica skipped for long) carrying a huge number.
  EXPECT_TRUE(d.mark(std::uint64_t{1} << 63));
  EXPECT_TRUE(d.handled(std::uint64_t{1} << 63));
  EXPECT_FALSE(d.handled(100)) << "nothing is concluded about what came before the jump";
  EXPECT_FALSE(d.handled(301)) << "the producer's next message is not a duplicate";
  EXPECT_FALSE(d.handled(5000));
  d.mark(301);  // below the new window: handled, not remembered
  EXPECT_FALSE(d.handled(302));
  // A window that slides on after the jump concludes again, for what it slid past.
  const std::uint64_t top = (std::uint64_t{1} << 63) + 1000;
  for (std::uint64_t s = (std::uint64_t{1} << 63) + 1; s <= top; ++s)
    EXPECT_FALSE(d.mark(s));
  EXPECT_TRUE(d.handled(top - 500));
  EXPECT_FALSE(d.handled(400)) << "jumped over, never slid past";
}

// The producer's lag: when the oldest message not yet acknowledged was stored.
TEST(InFlightWindow, KnowsWhenItsOldestMessageWasStored) {
  InFlightWindow w(8);
  EXPECT_EQ(w.oldest_stored_at(), InFlightWindow::Clock::time_point::max()) << "empty";
  const auto t0 = InFlightWindow::Clock::now();
  for (std::uint64_t seq = 1; seq <= 3; ++seq)
    w.mark_sent(w.insert(seq, frame("m"), 0, t0 + std::chrono::milliseconds(seq)), 1,
                t0 + std::chrono::milliseconds(10));
  EXPECT_EQ(w.oldest_stored_at(), t0 + 1ms);
  std::uint32_t replica = 0;
  ASSERT_TRUE(w.ack(2, replica));
  EXPECT_EQ(w.oldest_stored_at(), t0 + 1ms) << "1 is still unacknowledged";
  ASSERT_TRUE(w.ack(1, replica));
  EXPECT_EQ(w.oldest_stored_at(), t0 + 3ms);
  ASSERT_TRUE(w.ack(3, replica));
  EXPECT_EQ(w.oldest_stored_at(), InFlightWindow::Clock::time_point::max());
}

}  // namespace
}  // namespace brook::detail
