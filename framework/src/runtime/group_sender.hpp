// One consuming node of a pipeline channel, as a producer sees it: the node's replicas, the
// socket connected to them, and a bounded queue of what they cannot take yet. Two kinds, each
// owning its routing: BestEffortSender (a PUSH: ZeroMQ shares the work) and ReliableSender (a
// ROUTER: the sender picks the replica and keeps each message until it is acknowledged).
//
// A sender does no polling of its own: the loop asks interest() and calls on_socket_ready(),
// on_monitor_event() and tick() (see OutputPort), so it is unit-tested with plain sockets.
#pragma once

#include <brook/counters.hpp>
#include <brook/topology.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <zmq.hpp>

#include "directory/directory_protocol.hpp"
#include "runtime/replica_set.hpp"
#include "security/security.hpp"

namespace brook::detail {

enum class Offer { kSent, kQueued, kFull };

class GroupSender {
 public:
  using Clock = std::chrono::steady_clock;
  // Called with each sequence number acknowledged for the first time, and the tag it was
  // offered with.
  using AckedFn = std::function<void(std::uint64_t seq, std::uint64_t tag)>;

  virtual ~GroupSender() = default;
  GroupSender(const GroupSender&) = delete;
  GroupSender& operator=(const GroupSender&) = delete;

  const std::string& node() const noexcept { return replicas_.node(); }
  // An observer (brook tap): never queued for, dropped when it cannot keep up.
  bool tap() const noexcept { return tap_; }
  // Whether a message it takes will be acknowledged (AckedFn), for chained acknowledgements.
  virtual bool acknowledges() const noexcept = 0;

  void add_replica(const DirectoryEntry& e) { (void)replicas_.add(e); }
  void remove_replica(const DirectoryEntry& e);
  void on_monitor_event();
  void* monitor_socket() noexcept { return replicas_.monitor_socket(); }
  zmq::socket_t& socket() noexcept { return socket_; }

  // Sends `msg` (sequence number `seq` of the channel) now, or queues it behind earlier ones;
  // kFull when the queue is at max_pending (msg untouched). `key_hash`: of the message's ordering
  // key (0 = none). `force`: queue even beyond max_pending (what a durable journal re-sends).
  // `tag`: given back with its acknowledgement (the delivery tracker's chain tag).
  [[nodiscard]] virtual Offer offer(zmq::message_t& msg, std::uint64_t seq,
                                    std::uint64_t key_hash = 0, bool force = false,
                                    std::uint64_t tag = 0) = 0;
  // Sends what waits while replicas take it; returns how many first sends happened (re-sends are
  // counted as redelivered instead).
  virtual std::size_t flush() = 0;
  // Messages not yet handed to a replica.
  virtual std::size_t pending() const noexcept = 0;
  virtual std::size_t in_flight() const noexcept { return 0; }
  // The oldest sequence number not yet acknowledged (0: none), for a durable output's journal.
  virtual std::uint64_t oldest_unacked() const noexcept { return 0; }
  // When that message was emitted (time_point::max(): none).
  virtual Clock::time_point oldest_unacked_since() const noexcept {
    return Clock::time_point::max();
  }

  // The socket events the sender waits for now (ZMQ_POLLIN, ZMQ_POLLOUT, 0: none).
  virtual short interest() const noexcept = 0;
  // The socket has those events: reads acknowledgements and sends what waits. Returns the first
  // sends, like flush().
  virtual std::size_t on_socket_ready(const AckedFn& acked) = 0;
  // When tick() is next needed without a socket event (time_point::max(): not).
  virtual Clock::time_point next_wakeup() const noexcept { return Clock::time_point::max(); }
  virtual void tick(Clock::time_point /*now*/) {}

  std::size_t known_replicas() const noexcept { return replicas_.known(); }
  std::size_t connected_replicas() const noexcept { return replicas_.connected(); }
  bool all_connected() const noexcept { return replicas_.all_connected(); }

 protected:
  // `security` must outlive the sender. `counters`: the channel's.
  GroupSender(zmq::context_t& context, zmq::socket_type type, const ChannelSpec& channel,
              std::string node, bool tap, std::chrono::milliseconds linger,
              ChannelCounters& counters, const Security& security);
  // A replica disconnected or left the directory: take back what it holds.
  virtual void replica_gone(Replica& /*r*/) {}

  const ChannelSpec* channel_;
  bool tap_;
  std::size_t max_pending_;
  ChannelCounters& counters_;
  zmq::socket_t socket_;
  ReplicaSet replicas_;
};

}  // namespace brook::detail
