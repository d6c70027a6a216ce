// One consuming node of a pipeline channel, as seen by a producer, plus a bounded queue of
// messages the group could not take yet (no replica connected, or every replica full).
//
// best-effort: one PUSH socket connected to the node's live replicas (ZeroMQ shares the work).
// at-least-once: one ROUTER socket with a routing id per replica, so the producer picks the
// replica (fewest unacknowledged messages), keeps each message in an InFlightWindow until that
// replica acknowledges it, and re-sends it elsewhere when the replica disconnects, leaves the
// directory, or does not acknowledge within ack_timeout (docs/reliability.md).
#pragma once

#include <brook/counters.hpp>
#include <brook/topology.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "directory/directory_protocol.hpp"
#include "runtime/in_flight_window.hpp"
#include "runtime/socket_monitor.hpp"
#include "security/security.hpp"

namespace brook::detail {

enum class Offer { kSent, kQueued, kFull };

// FNV-1a of an ordering key (never 0, which means "no key"), for order_by: key.
std::uint64_t key_hash(std::string_view key) noexcept;

class ConsumerGroup {
 public:
  using Clock = std::chrono::steady_clock;

  // `tap`: an observer (brook tap) — never queued for, dropped when it cannot keep up, always
  // best-effort. `counters`: the channel's, for in-flight, redelivery and ack-error counts.
  // `security` must outlive the group: each replica is connected to as a CURVE server holding
  // `node`'s key.
  ConsumerGroup(zmq::context_t& context, const ChannelSpec& channel, std::string node, bool tap,
                std::chrono::milliseconds linger, ChannelCounters& counters,
                const Security& security);

  const std::string& node() const noexcept { return node_; }
  bool tap() const noexcept { return tap_; }
  bool reliable() const noexcept { return reliable_; }

  void add_replica(const DirectoryEntry& e);
  void remove_replica(const DirectoryEntry& e);

  // Sends `msg` (sequence number `seq` of the channel) now, or queues it behind earlier ones;
  // kFull when the queue is at max_pending (msg untouched).
  // `key_hash`: of the message's ordering key (0 = none), for order_by: key.
  // `force`: queue even beyond max_pending (re-sending what a durable journal kept).
  [[nodiscard]] Offer offer(zmq::message_t& msg, std::uint64_t seq, std::uint64_t key_hash = 0,
                            bool force = false);
  // Sends what waits (queued, or released by a dead replica) while replicas take it. Returns
  // how many first sends happened (re-sends are counted as redelivered instead).
  std::size_t flush();
  // Messages not yet handed to a replica.
  std::size_t pending() const noexcept;
  std::size_t in_flight() const noexcept { return reliable_ ? window_.in_flight() : 0; }
  // at-least-once: the oldest sequence number not yet acknowledged (0: none), for a durable
  // output's journal.
  std::uint64_t oldest_unacked() const noexcept;
  // at-least-once: reads acknowledgements (call when the socket is readable); `acked` is called
  // with each sequence number acknowledged for the first time.
  void on_readable(const std::function<void(std::uint64_t)>& acked);
  // at-least-once: re-sends what was not acknowledged within ack_timeout. Cheap when nothing is
  // due; call every loop iteration.
  void tick(Clock::time_point now);
  // Something to retry without a socket event (at-least-once has no POLLOUT to wait for).
  bool wants_retry() const noexcept {
    return reliable_ && !unsent_.empty() && connected_replicas() > 0;
  }

  void* socket() noexcept { return socket_.handle(); }
  void* monitor_socket() noexcept { return monitor_->handle(); }
  void on_monitor_event();

  std::size_t known_replicas() const noexcept { return replicas_.size(); }
  std::size_t connected_replicas() const noexcept;
  // Every replica the directory lists has completed its handshake.
  bool all_connected() const noexcept;

 private:
  struct Replica {
    std::uint32_t id = 0;
    std::string name;        // "node.instance@incarnation"
    std::string routing_id;  // at-least-once: how the ROUTER addresses it
    bool connected = false;
    std::size_t in_flight = 0;
    std::uint64_t hash = 0;  // of `name`, for rendezvous hashing
  };

  bool send_reliable(InFlightWindow::Entry& e, Clock::time_point now);
  void requeue(std::vector<std::uint64_t>& seqs);
  void disconnected(Replica& r);
  Replica* replica_by_id(std::uint32_t id);

  std::string node_;
  bool tap_;
  bool reliable_;
  const ChannelSpec* channel_;
  std::size_t max_pending_;
  ChannelCounters& counters_;
  zmq::socket_t socket_;
  const Security* security_;
  std::unique_ptr<SocketMonitor> monitor_;
  std::map<std::string, Replica> replicas_;  // by endpoint
  std::uint32_t next_replica_id_ = 1;

  // best-effort
  std::deque<zmq::message_t> pending_;
  // at-least-once
  InFlightWindow window_;
  struct Held {
    std::uint64_t seq;
    std::uint64_t key_hash;
    zmq::message_t msg;
  };
  std::deque<Held> held_;             // not yet in the window
  std::deque<std::uint64_t> unsent_;  // in the window, waiting for a replica
  std::vector<std::uint64_t> scratch_;
  std::vector<std::uint32_t> scratch_replicas_;
  std::vector<Replica*> candidates_;
  std::vector<std::uint64_t> acked_seqs_;  // of the ack frame being read
  Clock::time_point next_timeout_scan_{};
};

}  // namespace brook::detail
