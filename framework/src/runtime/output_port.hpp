// A node's output port: its channel, producer id and sequence numbers, and the consumers it hands
// messages to. Two kinds: PipelineOutput (a sender per consuming node, and a durable port's
// journal) and PubsubOutput (one publisher). A message goes out in two steps so a handler's
// output can be held until it returns: make_room() applies the channel's on_full policy when the
// message is emitted, deliver() hands it over (at once, or when the handler returned).
#pragma once

#include <brook/counters.hpp>
#include <brook/log.hpp>
#include <brook/topology.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "directory/directory_protocol.hpp"
#include "runtime/output_journal.hpp"
#include "runtime/reactor.hpp"
#include "runtime/tap_refuser.hpp"
#include "security/security.hpp"

namespace brook::detail {

// Taps (brook tap) one producer serves per channel at a time; each costs the producer sockets
// (a PUSH and its monitor on pipeline channels) and a copy of every message. A tap beyond it
// gets nothing from that producer but a tap-refused frame, which makes it exit 1 saying so
// (docs/cli.md#brook-tap).
inline constexpr std::size_t kMaxTapsPerChannel = 16;

// Runs the loop's control work (directory, monitors, flushing) until `done()` or the deadline;
// true if done() became true. Provided by the runtime for the `block` policy.
using WaitFn = std::function<bool(const std::function<bool()>& done,
                                  std::chrono::steady_clock::time_point deadline)>;

class OutputPort {
 public:
  using Clock = std::chrono::steady_clock;
  // A consumer group acknowledged message `seq` of this port, delivered with `tag`.
  using AckedFn = std::function<void(std::uint64_t seq, std::uint64_t tag)>;

  virtual ~OutputPort();
  OutputPort(const OutputPort&) = delete;
  OutputPort& operator=(const OutputPort&) = delete;

  const std::string& port() const noexcept { return port_; }
  const std::string& producer_id() const noexcept { return producer_id_; }
  const ChannelSpec& channel() const noexcept { return *channel_; }
  ChannelCounters& counters() noexcept { return counters_; }
  Registration registration() const;
  // Durable: a journal keeps what was delivered until every consumer acknowledged it.
  virtual bool durable() const noexcept { return false; }
  // A durable port's journal (null otherwise). A node with a state store appends what a loop
  // pass emitted to it before the pass commits, and delivers it after (journaled = true).
  virtual OutputJournal* journal() noexcept { return nullptr; }

  // The sequence number of the next message; take_seq() consumes it. rewind_seq() gives back
  // numbers taken by messages that were never delivered (a failed handler's output), which must
  // be the latest taken.
  std::uint64_t next_seq() const noexcept { return next_seq_; }
  std::uint64_t take_seq() noexcept { return next_seq_++; }
  void rewind_seq(std::uint64_t first_unused) noexcept { next_seq_ = first_unused; }

  // Applies on_full while consumers hold max_pending messages: waits (block, up to
  // block_timeout) or throws BackpressureError (fail, or block timed out); with drop, deliver()
  // drops and counts.
  virtual void make_room(const WaitFn& wait) = 0;
  // Whether consumers acknowledge what it delivers (an at-least-once pipeline channel).
  virtual bool acknowledged() const noexcept { return false; }
  // Hands message `seq` to the consumers (a durable port journals it first unless `journaled`).
  // Returns how many consumer groups that acknowledge took it (for chained acknowledgements; 0
  // for best-effort and pubsub); their acknowledgements come back with `tag` (AckedFn).
  virtual std::size_t deliver(zmq::message_t& msg, std::uint64_t seq, std::uint64_t key_hash,
                              bool journaled, std::uint64_t tag) = 0;

  // Directory events for inputs on this port's channel.
  virtual void consumer_added(const DirectoryEntry& e) = 0;
  virtual void consumer_removed(const DirectoryEntry& e) = 0;

  // Moves held messages to sockets that can take them.
  virtual void flush() = 0;
  // Held or unacknowledged messages remain (at shutdown a producer waits for them).
  virtual bool has_pending() const = 0;
  // When the oldest message not yet acknowledged was emitted (time_point::max(): none, or the
  // channel is not at-least-once): the lag the heartbeat reports.
  virtual Clock::time_point oldest_unacked_since() const noexcept {
    return Clock::time_point::max();
  }

  // Every declared consumer node has a connected replica and every listed replica is connected
  // (pipeline) or welcomed us (pubsub); readiness() says what is missing, for the ready-timeout
  // warning. open(): go ahead without them (ready timeout).
  virtual bool ready() const = 0;
  virtual std::string readiness() const = 0;
  virtual void open() {}

 protected:
  // Its sockets (now and as consumers join) are served by `reactor`, which must outlive it.
  OutputPort(Reactor& reactor, const PortSpec& port, const ChannelSpec& channel,
             std::string producer_id, ChannelCounters& counters);
  // `sent_elsewhere`: the socket is also sent on outside `fn` (by deliver()).
  Reactor::ReaderId watch_socket(zmq::socket_ref s, std::function<short()> interest,
                                 std::function<void(short)> fn, bool sent_elsewhere);
  // Stops serving a socket of watch_socket(); it may be closed afterwards.
  void unwatch(Reactor::ReaderId id);
  // Whether tap `e` may join while `taps` are served; a refused tap is told with `refuser` and
  // the refusal logged (rate-limited).
  bool admit_tap(const DirectoryEntry& e, std::size_t taps, TapRefuser& refuser);
  void watch_source(std::function<Clock::time_point()> next,
                    std::function<void(Clock::time_point)> tick);

  Reactor& reactor_;
  std::vector<Reactor::ReaderId> readers_;
  std::vector<Reactor::SourceId> sources_;
  std::string port_;
  const ChannelSpec* channel_;
  std::string producer_id_;
  ChannelCounters& counters_;
  std::uint64_t next_seq_ = 1;
  LogRateLimiter tap_refusal_log_;
};

}  // namespace brook::detail
