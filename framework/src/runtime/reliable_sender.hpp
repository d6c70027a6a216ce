// An at-least-once consuming node: one ROUTER socket with a routing id per replica, so the
// sender picks the replica — the one with the fewest unacknowledged messages, ties taken in turn,
// or with order_by: key the key's owner by rendezvous hashing — keeps each message in an
// InFlightWindow until that replica acknowledges it, and re-sends it elsewhere when the replica
// disconnects, leaves the directory, or does not acknowledge within ack_timeout
// (docs/reliability.md).
//
// Bounds: the window holds at most channel.window messages in flight; max_pending bounds what
// waits for a replica (held before the window, or in it unsent).
#pragma once

#include <vector>

#include "runtime/group_sender.hpp"
#include "runtime/in_flight_window.hpp"
#include "util/ring_queue.hpp"

namespace brook::detail {

class ReliableSender final : public GroupSender {
 public:
  ReliableSender(zmq::context_t& context, const ChannelSpec& channel, std::string node,
                 std::chrono::milliseconds linger, ChannelCounters& counters,
                 const Security& security);
  ~ReliableSender() override;

  bool acknowledges() const noexcept override { return true; }
  [[nodiscard]] Offer offer(zmq::message_t& msg, std::uint64_t seq, std::uint64_t key_hash = 0,
                            bool force = false, std::uint64_t tag = 0) override;
  std::size_t flush() override;
  std::size_t pending() const noexcept override { return held_.size() + unsent_.size(); }
  std::size_t in_flight() const noexcept override { return window_.in_flight(); }
  std::uint64_t oldest_unacked() const noexcept override;
  Clock::time_point oldest_unacked_since() const noexcept override;
  // A ROUTER is always writable: it is read for acknowledgements, and what waits for a replica
  // is retried on a short timer (next_wakeup) instead.
  short interest() const noexcept override { return ZMQ_POLLIN; }
  std::size_t on_socket_ready(const AckedFn& acked) override;
  Clock::time_point next_wakeup() const noexcept override;
  // Queues for re-sending what was not acknowledged within ack_timeout (the caller flushes
  // after ticking, which also retries what waits for a full replica).
  void tick(Clock::time_point now) override;

 private:
  void replica_gone(Replica& r) override;
  bool send(InFlightWindow::Entry& e, Clock::time_point now);
  void pick_candidates(const InFlightWindow::Entry& e);
  void requeue(std::vector<std::uint64_t>& seqs);
  void read_acks(const AckedFn& acked);
  void replica_draining(std::string_view routing_id);

  std::chrono::milliseconds linger_;  // the socket's, at close only
  InFlightWindow window_;
  struct Held {
    std::uint64_t seq = 0;
    std::uint64_t key_hash = 0;
    std::uint64_t tag = 0;
    zmq::message_t msg;
  };
  RingQueue<Held> held_;             // not yet in the window
  RingQueue<std::uint64_t> unsent_;  // in the window, waiting for a replica
  std::uint32_t turn_ = 0;           // rotates the order of equally loaded replicas
  std::vector<std::uint64_t> scratch_;
  std::vector<std::uint32_t> scratch_replicas_;
  std::vector<Replica*> candidates_;
  std::vector<std::uint64_t> acked_seqs_;  // of the ack frame being read
  Clock::time_point next_timeout_scan_{};
  Clock::time_point retry_at_{};  // when what waits in unsent_ is tried again
};

}  // namespace brook::detail
