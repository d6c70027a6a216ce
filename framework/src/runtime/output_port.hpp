// A node's output port: the channel's consumer groups (pipeline) or publisher (pubsub), the
// port's sequence numbers, and the on_full policy applied when consumers cannot keep up.
#pragma once

#include <brook/counters.hpp>
#include <brook/topology.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <zmq.hpp>

#include "directory/directory_protocol.hpp"
#include "runtime/group_sender.hpp"
#include "runtime/output_journal.hpp"
#include "runtime/publisher.hpp"

namespace brook::detail {

// Runs the loop's control work (directory, monitors, flushing) until `done()` or the deadline;
// true if done() became true. Provided by the runtime for the `block` policy.
using WaitFn = std::function<bool(const std::function<bool()>& done,
                                  std::chrono::steady_clock::time_point deadline)>;

class OutputPort {
 public:
  // `journal`: a durable output's (null otherwise). Its unacknowledged messages are queued for
  // the consumers at once, sequence numbers continue after it, and `producer_id` must be the
  // same for every incarnation using it (consumers de-duplicate by producer and number).
  OutputPort(zmq::context_t& context, const PortSpec& port, const ChannelSpec& channel,
             const Topology& topology, std::string producer_id, std::chrono::milliseconds linger,
             ChannelCounters& counters, const Security& security,
             std::unique_ptr<OutputJournal> journal = nullptr);

  const std::string& port() const noexcept { return port_; }
  const std::string& producer_id() const noexcept { return producer_id_; }
  bool durable() const noexcept { return journal_ != nullptr; }
  const ChannelSpec& channel() const noexcept { return *channel_; }
  Registration registration() const;

  std::uint64_t next_seq() const noexcept { return next_seq_; }
  ChannelCounters& counters() noexcept { return counters_; }

  // Directory events for inputs on this port's channel. True when sockets were added (the
  // loop's poll set must be rebuilt).
  bool consumer_added(const DirectoryEntry& e);
  void consumer_removed(const DirectoryEntry& e);

  // Hands one encoded envelope to every consumer group, applying on_full. Consumes a sequence
  // number. Throws BackpressureError (policy fail, or block timed out).
  // Returns how many at-least-once consumer groups took the message (0 for best-effort).
  // `key_hash`: of the ordering key (0 = none), for order_by: key.
  std::size_t send(std::span<const std::byte> frame, const WaitFn& wait,
                   std::uint64_t key_hash = 0);
  // Chained acknowledgement: message `seq` was emitted while handling an input message (token);
  // `groups` acknowledgements are expected, and child_done(token) is called on each.
  void track(std::uint64_t seq, std::uint64_t token, std::size_t groups);
  void set_child_done(std::function<void(std::uint64_t token)> fn) { child_done_ = std::move(fn); }
  // A group's socket has the events it asked for (interest()): acknowledgements, or room.
  void socket_ready(GroupSender& g);
  // Moves held messages to sockets that can take them.
  void flush();
  bool has_pending() const;
  // When tick() is next needed without a socket event (ack timeouts, retries of what waits for a
  // full replica); tick() does that work when due.
  std::chrono::steady_clock::time_point next_wakeup() const;
  void tick(std::chrono::steady_clock::time_point now);

  // Every declared consumer node has a connected replica and every listed replica is connected
  // (pipeline) or welcomed us (pubsub).
  bool ready() const;
  std::string readiness() const;  // what is missing, for the ready-timeout warning
  // Publishes held pubsub messages even though not every subscriber is there (ready timeout).
  void open();

  std::map<std::string, std::unique_ptr<GroupSender>>& groups() noexcept { return groups_; }
  Publisher* publisher() noexcept { return publisher_.get(); }

 private:
  void update_pending_gauge();
  bool make_room(GroupSender& g, const WaitFn& wait);
  std::unique_ptr<GroupSender> make_sender(const std::string& node, bool tap) const;
  void replay_journal();
  // Durable: tells the journal what every consuming node acknowledged.
  void journal_low_water();

  std::string port_;
  const ChannelSpec* channel_;
  std::string producer_id_;
  std::chrono::milliseconds linger_;
  ChannelCounters& counters_;
  const Security& security_;
  zmq::context_t& context_;
  std::set<std::string> declared_;  // consuming nodes named by the topology
  std::set<std::string> warned_;    // undeclared consumers already warned about
  std::uint64_t next_seq_ = 1;
  std::map<std::string, std::unique_ptr<GroupSender>> groups_;  // pipeline, by node
  std::unique_ptr<Publisher> publisher_;                        // pubsub
  std::unique_ptr<OutputJournal> journal_;                      // durable outputs
  struct Child {
    std::uint64_t token;
    std::size_t groups_left;
  };
  std::unordered_map<std::uint64_t, Child> children_;  // by sequence number
  std::function<void(std::uint64_t)> child_done_;
  std::function<void(std::uint64_t)> on_acked_;
};

}  // namespace brook::detail
