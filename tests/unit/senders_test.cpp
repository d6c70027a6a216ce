// The pipeline senders over real sockets on 127.0.0.1: what each takes, queues and refuses, how
// the reliable one picks replicas and takes back what a replica did not acknowledge.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <msgpack.hpp>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "runtime/best_effort_sender.hpp"
#include "runtime/reliable_sender.hpp"
#include "wire/control_frames.hpp"

namespace brook::detail {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

ChannelSpec channel(Delivery delivery, std::size_t max_pending = 4) {
  ChannelSpec c;
  c.name = "work";
  c.delivery = delivery;
  c.max_pending = max_pending;
  c.ack_timeout = 200ms;
  return c;
}

// A consuming replica: a socket bound on an ephemeral port, as a real input binds it.
struct Replica {
  Replica(zmq::context_t& ctx, zmq::socket_type type, std::string name) : socket(ctx, type) {
    socket.set(zmq::sockopt::linger, 0);
    socket.bind("tcp://127.0.0.1:*");
    entry.node = "counter";
    entry.instance = static_cast<std::uint32_t>(name.back() - '0');
    entry.incarnation = name;
    entry.reg.channel = "work";
    entry.reg.endpoint = socket.get(zmq::sockopt::last_endpoint);
  }
  // Reads one message within 2 s: [routing id,] body. Empty optional on timeout.
  std::optional<std::pair<std::string, std::string>> receive() {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, 2000ms) == 0) return std::nullopt;
    zmq::message_t first;
    (void)socket.recv(first);
    if (!first.more()) return std::pair{std::string(), first.to_string()};
    zmq::message_t body;
    (void)socket.recv(body);
    return std::pair{first.to_string(), body.to_string()};
  }
  bool nothing_within(std::chrono::milliseconds t) {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    return zmq::poll(&item, 1, t) == 0;
  }
  void ack(const std::string& peer, std::vector<std::uint64_t> seqs) {
    msgpack::sbuffer b;
    encode_ack(seqs, b);
    socket.send(zmq::buffer(peer), zmq::send_flags::sndmore);
    socket.send(zmq::buffer(b.data(), b.size()));
  }
  zmq::socket_t socket;
  DirectoryEntry entry;
};

// Reads monitor events until `n` replicas completed their handshake (2 s at most).
bool wait_connected(GroupSender& s, std::size_t n) {
  const auto deadline = Clock::now() + 2s;
  while (s.connected_replicas() < n && Clock::now() < deadline) {
    zmq::pollitem_t item{s.monitor_socket(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, 50ms) > 0) s.on_monitor_event();
  }
  return s.connected_replicas() >= n;
}

// Reads the sender's socket until `done()` (2 s at most), passing acknowledgements on.
template <class Done>
bool pump(GroupSender& s, const GroupSender::AckedFn& acked, Done done) {
  const auto deadline = Clock::now() + 2s;
  while (!done() && Clock::now() < deadline) {
    zmq::pollitem_t item{s.socket().handle(), 0, s.interest(), 0};
    if (zmq::poll(&item, 1, 20ms) > 0) (void)s.on_socket_ready(acked);
    if (s.next_wakeup() <= Clock::now()) {
      s.tick(Clock::now());
      (void)s.flush();
    }
  }
  return done();
}

zmq::message_t msg(const std::string& s) {
  return zmq::message_t(s.data(), s.size());
}

class SendersTest : public ::testing::Test {
 protected:
  zmq::context_t ctx{1};
  Security security;
  ChannelCounters counters;
};

TEST_F(SendersTest, BestEffortQueuesUntilAReplicaConnectsThenRefusesBeyondMaxPending) {
  const ChannelSpec ch = channel(Delivery::kBestEffort, 2);
  BestEffortSender s(ctx, ch, "counter", false, 0ms, counters, security);
  EXPECT_FALSE(s.acknowledges());
  EXPECT_EQ(s.interest(), 0);

  auto a = msg("a"), b = msg("b"), c = msg("c");
  EXPECT_EQ(s.offer(a, 1), Offer::kQueued);  // no replica: held, not parked in a dead pipe
  EXPECT_EQ(s.offer(b, 2), Offer::kQueued);
  EXPECT_EQ(s.offer(c, 3), Offer::kFull);
  EXPECT_EQ(c.to_string(), "c");  // a refused message is left to the caller
  EXPECT_EQ(s.pending(), 2u);
  EXPECT_EQ(s.interest(), ZMQ_POLLOUT);

  Replica r(ctx, zmq::socket_type::pull, "x0");
  s.add_replica(r.entry);
  ASSERT_TRUE(wait_connected(s, 1));
  ASSERT_TRUE(pump(s, nullptr, [&] { return s.pending() == 0; }));
  EXPECT_EQ(r.receive()->second, "a");
  EXPECT_EQ(r.receive()->second, "b");
  auto d = msg("d");
  EXPECT_EQ(s.offer(d, 4), Offer::kSent);
  EXPECT_EQ(r.receive()->second, "d");
}

// A producer faster than its replica: once the pipe is full, what follows waits in the queue and
// goes out, in order, as the replica makes room (the socket's POLLOUT), not lost nor reordered.
TEST_F(SendersTest, BestEffortSendsWhatWaitedBehindAFullPipeInOrder) {
  ChannelSpec ch = channel(Delivery::kBestEffort, 100'000);
  ch.hwm = 10;
  BestEffortSender s(ctx, ch, "counter", false, 0ms, counters, security);
  Replica r(ctx, zmq::socket_type::pull, "x0");
  r.socket.set(zmq::sockopt::rcvhwm, 10);
  s.add_replica(r.entry);
  ASSERT_TRUE(wait_connected(s, 1));
  constexpr int kCount = 20'000;  // far beyond both pipes and the kernel's socket buffers
  for (int i = 0; i < kCount; ++i) {
    auto m = msg(std::to_string(i));
    ASSERT_NE(s.offer(m, static_cast<std::uint64_t>(i + 1)), Offer::kFull);
  }
  ASSERT_GT(s.pending(), 0u);
  EXPECT_EQ(s.flush(), 0u);  // nobody read: no room
  int next = 0;
  auto read_some = [&] {
    for (zmq::message_t got; next < kCount && r.socket.recv(got, zmq::recv_flags::dontwait);) {
      ASSERT_EQ(got.to_string(), std::to_string(next));
      ++next;
    }
  };
  // A handler that keeps emitting calls flush() without the loop running (no POLLOUT seen):
  // once the replica made room, what waits still goes out within a bounded number of calls.
  std::size_t flushed = 0;
  const auto flush_deadline = Clock::now() + 5s;
  while (flushed == 0 && Clock::now() < flush_deadline) {
    read_some();
    flushed = s.flush();
  }
  EXPECT_GT(flushed, 0u) << "nothing sent without the loop's POLLOUT";
  const auto deadline = Clock::now() + 10s;
  while (next < kCount && Clock::now() < deadline) {
    zmq::pollitem_t items[] = {{s.socket().handle(), 0, s.interest(), 0},
                               {r.socket.handle(), 0, ZMQ_POLLIN, 0}};
    (void)zmq::poll(items, 2, 20ms);
    if (items[0].revents != 0) (void)s.on_socket_ready(nullptr);
    read_some();
  }
  EXPECT_EQ(next, kCount);
  EXPECT_EQ(s.pending(), 0u);
}

TEST_F(SendersTest, ReliableKeepsEachMessageUntilAcknowledged) {
  const ChannelSpec ch = channel(Delivery::kAtLeastOnce);
  ReliableSender s(ctx, ch, "counter", 0ms, counters, security);
  EXPECT_TRUE(s.acknowledges());
  Replica r(ctx, zmq::socket_type::router, "x0");
  s.add_replica(r.entry);
  ASSERT_TRUE(wait_connected(s, 1));

  auto m = msg("one");
  ASSERT_EQ(s.offer(m, 1, 0, false, 0xabcdef0123), Offer::kSent);
  EXPECT_EQ(s.in_flight(), 1u);
  EXPECT_EQ(s.oldest_unacked(), 1u);
  const auto got = r.receive();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->second, "one");

  std::vector<std::uint64_t> acked;
  std::vector<std::uint64_t> tags;
  r.ack(got->first, {1, 1, 99});  // a repeated and an unknown number are ignored
  ASSERT_TRUE(pump(
      s,
      [&](std::uint64_t seq, std::uint64_t tag) {
        acked.push_back(seq);
        tags.push_back(tag);
      },
      [&] { return s.in_flight() == 0; }));
  EXPECT_EQ(acked, std::vector<std::uint64_t>{1});
  EXPECT_EQ(tags, std::vector<std::uint64_t>{0xabcdef0123}) << "the tag it was offered with";
  EXPECT_EQ(s.oldest_unacked(), 0u);
}

TEST_F(SendersTest, EquallyLoadedReplicasTakeTurns) {
  // At a low rate every replica has nothing in flight; each must still get its share.
  const ChannelSpec ch = channel(Delivery::kAtLeastOnce);
  ReliableSender s(ctx, ch, "counter", 0ms, counters, security);
  Replica r0(ctx, zmq::socket_type::router, "x0");
  Replica r1(ctx, zmq::socket_type::router, "x1");
  Replica r2(ctx, zmq::socket_type::router, "x2");
  std::vector<Replica*> replicas{&r0, &r1, &r2};
  for (auto* r : replicas)
    s.add_replica(r->entry);
  ASSERT_TRUE(wait_connected(s, 3));

  std::map<Replica*, int> taken;
  for (std::uint64_t seq = 1; seq <= 6; ++seq) {
    auto m = msg("m" + std::to_string(seq));
    ASSERT_EQ(s.offer(m, seq), Offer::kSent);
    Replica* got_by = nullptr;
    for (auto* r : replicas) {
      zmq::pollitem_t item{r->socket.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, 0ms) == 0) continue;
      auto got = r->receive();
      r->ack(got->first, {seq});
      got_by = r;
    }
    if (got_by == nullptr) {  // not yet arrived: wait for it on any replica
      for (int tries = 0; tries < 100 && got_by == nullptr; ++tries) {
        for (auto* r : replicas) {
          zmq::pollitem_t item{r->socket.handle(), 0, ZMQ_POLLIN, 0};
          if (zmq::poll(&item, 1, 10ms) == 0) continue;
          auto got = r->receive();
          r->ack(got->first, {seq});
          got_by = r;
          break;
        }
      }
    }
    ASSERT_NE(got_by, nullptr);
    ++taken[got_by];
    ASSERT_TRUE(pump(s, nullptr, [&] { return s.in_flight() == 0; }));
  }
  for (auto* r : replicas)
    EXPECT_EQ(taken[r], 2) << r->entry.incarnation;
}

TEST_F(SendersTest, AReplicaThatLeavesGivesItsUnacknowledgedMessagesToAnother) {
  const ChannelSpec ch = channel(Delivery::kAtLeastOnce);
  ReliableSender s(ctx, ch, "counter", 0ms, counters, security);
  Replica r0(ctx, zmq::socket_type::router, "x0");
  s.add_replica(r0.entry);
  ASSERT_TRUE(wait_connected(s, 1));
  auto m = msg("work");
  ASSERT_EQ(s.offer(m, 1), Offer::kSent);
  ASSERT_TRUE(r0.receive());  // taken, never acknowledged

  Replica r1(ctx, zmq::socket_type::router, "x1");
  s.add_replica(r1.entry);
  ASSERT_TRUE(wait_connected(s, 2));
  s.remove_replica(r0.entry);  // the directory says it is gone
  EXPECT_EQ(counters.redelivered, 1u);
  (void)s.flush();
  const auto again = r1.receive();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->second, "work");
  EXPECT_EQ(s.in_flight(), 1u);
}

TEST_F(SendersTest, AnUnacknowledgedMessageIsResentAfterTheAckTimeout) {
  const ChannelSpec ch = channel(Delivery::kAtLeastOnce);  // ack_timeout 200 ms
  ReliableSender s(ctx, ch, "counter", 0ms, counters, security);
  Replica r(ctx, zmq::socket_type::router, "x0");
  s.add_replica(r.entry);
  ASSERT_TRUE(wait_connected(s, 1));
  auto m = msg("slow");
  ASSERT_EQ(s.offer(m, 1), Offer::kSent);
  const auto first = r.receive();
  ASSERT_TRUE(first);
  const auto sent_at = Clock::now();
  ASSERT_TRUE(pump(s, nullptr, [&] { return counters.redelivered == 1; }));
  EXPECT_GE(Clock::now() - sent_at, 150ms);  // not before the timeout (100 ms scan granularity)
  const auto second = r.receive();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->second, "slow");
}

TEST_F(SendersTest, MessagesWithTheSameKeyGoToTheSameReplica) {
  ChannelSpec ch = channel(Delivery::kAtLeastOnce, 100);
  ch.order_by_key = true;
  ReliableSender s(ctx, ch, "counter", 0ms, counters, security);
  Replica r0(ctx, zmq::socket_type::router, "x0");
  Replica r1(ctx, zmq::socket_type::router, "x1");
  s.add_replica(r0.entry);
  s.add_replica(r1.entry);
  ASSERT_TRUE(wait_connected(s, 2));
  for (std::uint64_t seq = 1; seq <= 10; ++seq) {
    auto m = msg("k");
    ASSERT_EQ(s.offer(m, seq, key_hash("customer-7")), Offer::kSent);
  }
  const bool on_r0 = !r0.nothing_within(500ms);
  Replica& owner = on_r0 ? r0 : r1;
  Replica& other = on_r0 ? r1 : r0;
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(owner.receive());
  EXPECT_TRUE(other.nothing_within(100ms));
}

TEST_F(SendersTest, AReplicaWhoseConnectionDropsGetsItsUnacknowledgedMessagesAgainFirstInOrder) {
  // The sender reconnects itself (ZMQ_RECONNECT_IVL -1): nothing sent after the drop can reach
  // the replica ahead of what the drop lost (each connection has a fresh routing id: libzmq
  // aborts when a new pipe takes the id of one still terminating).
  ChannelSpec ch = channel(Delivery::kAtLeastOnce, 100);
  ch.order_by_key = true;
  ch.ack_timeout = 60s;  // re-sent because of the drop, not a timeout
  ReliableSender s(ctx, ch, "counter", 0ms, counters, security);
  auto r = std::make_unique<Replica>(ctx, zmq::socket_type::router, "x0");
  const std::string endpoint = r->entry.reg.endpoint;
  s.add_replica(r->entry);
  ASSERT_TRUE(wait_connected(s, 1));
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    auto m = msg(std::to_string(seq));
    ASSERT_EQ(s.offer(m, seq, key_hash("k")), Offer::kSent);
  }
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(r->receive());  // taken, never acknowledged
  // The replica's process goes away and comes back on the same endpoint (the directory still
  // lists it: a network blip looks the same to the sender). The loop emits once more after libzmq
  // saw the drop and before the loop read that event.
  r.reset();
  zmq::pollitem_t event{s.monitor_socket(), 0, ZMQ_POLLIN, 0};
  ASSERT_EQ(zmq::poll(&event, 1, 2000ms), 1);
  auto m4 = msg("4");
  ASSERT_NE(s.offer(m4, 4, key_hash("k")), Offer::kFull);
  zmq::socket_t back(ctx, zmq::socket_type::router);
  back.set(zmq::sockopt::linger, 0);
  const auto deadline = Clock::now() + 5s;
  for (bool bound = false; !bound;) {
    try {
      back.bind(endpoint);  // once libzmq's I/O thread closed the old listener
      bound = true;
    } catch (const zmq::error_t& e) {
      if (e.num() != EADDRINUSE || Clock::now() > deadline) throw;
      std::this_thread::sleep_for(5ms);
    }
  }
  // Taken back (re-sent) once the drop is read, then connected again.
  const auto reconnected = [&] { return counters.redelivered > 0 && s.connected_replicas() == 1; };
  while (Clock::now() < deadline && !reconnected()) {
    if (zmq::poll(&event, 1, 10ms) > 0) s.on_monitor_event();
    if (s.next_wakeup() <= Clock::now()) s.tick(Clock::now());
    (void)s.flush();
  }
  ASSERT_TRUE(reconnected());
  (void)s.flush();
  std::vector<std::string> order;
  zmq::pollitem_t item{back.handle(), 0, ZMQ_POLLIN, 0};
  while (order.size() < 4 && zmq::poll(&item, 1, 2000ms) > 0) {
    zmq::message_t id, body;
    (void)back.recv(id);
    (void)back.recv(body);
    order.push_back(body.to_string());
  }
  EXPECT_EQ(order, (std::vector<std::string>{"1", "2", "3", "4"}))
      << "what the drop lost first, in order, then what was emitted after it";
  EXPECT_EQ(s.in_flight(), 4u);
}

TEST_F(SendersTest, ReliableRefusesBeyondMaxPendingWhileNoReplicaIsConnected) {
  const ChannelSpec ch = channel(Delivery::kAtLeastOnce, 2);
  ReliableSender s(ctx, ch, "counter", 0ms, counters, security);
  auto a = msg("a"), b = msg("b"), c = msg("c");
  EXPECT_EQ(s.offer(a, 1), Offer::kQueued);
  EXPECT_EQ(s.offer(b, 2), Offer::kQueued);
  EXPECT_EQ(s.offer(c, 3), Offer::kFull);
  EXPECT_EQ(s.next_wakeup(), Clock::time_point::max());  // nothing to retry without a replica

  Replica r(ctx, zmq::socket_type::router, "x0");
  s.add_replica(r.entry);
  ASSERT_TRUE(wait_connected(s, 1));
  EXPECT_EQ(s.flush(), 2u);
  EXPECT_EQ(r.receive()->second, "a");
  EXPECT_EQ(r.receive()->second, "b");
}

}  // namespace
}  // namespace brook::detail
