// An at-least-once pipeline input: a ROUTER socket, so each message arrives with its producer's
// routing id, where its acknowledgement goes once settled. Remembers which messages of each
// producer it handled (DedupeWindow) so a re-send — its ack was lost or late, or its replica
// was presumed dead — is acknowledged again instead of handled twice.
//
// What a producer id handled is recorded per connection that speaks for it (a claim): an
// envelope claiming the id from another connection while the first one is still connected waits
// (unacknowledged) up to a second for the first to close — a restart or reconnect then takes the
// old record over — and then gets a record of its own, so one forged envelope with a huge
// sequence number cannot make the real producer's later messages look like duplicates, and a
// connection that claims the id first cannot silence the real producer either
// (docs/security.md). With CURVE the
// envelope's producer node must also be the node whose key the connection proved (else dropped,
// `forged`).
//
// Those waiting envelopes are held back in arrival order, not dropped: dropping one while a later
// one of the same connection is handled once the old connection closes would reorder the
// producer's stream (a reconnecting producer re-sends in order from its oldest unacknowledged
// message, and its later messages follow on the same connection: docs/reliability.md,
// "Ordering"). While a connection has envelopes held, its newer ones queue behind them; they are
// tried again every millisecond. Envelopes of a contested connection that is itself gone are
// dropped (its producer re-sends them on its new one).
//
// A node with a state store seeds each new record of a producer id with what its inbox committed
// for that id (seed_handled), so re-sends after a restart are recognised.
//
// Bounds: 4096 claims remembered (each restart is a new producer id), at most 4 per producer id
// (a fifth open connection replaces the least recently used); acknowledgements are sent in frames
// of at most 1024 numbers that fit the channel's max_message_size, and a connection's ack queue
// is forgotten once a batch passes without acks for it. At most max(1024, 2 x window) envelopes
// and 64 MiB held at once (a producer has at most `window` unacknowledged); beyond that they are
// dropped, unacknowledged, as before holding existed.
#pragma once

#include <deque>
#include <map>
#include <msgpack/sbuffer.hpp>
#include <unordered_set>
#include <vector>

#include "runtime/dedupe_window.hpp"
#include "runtime/receiver.hpp"
#include "util/last_found.hpp"
#include "util/recycling_allocator.hpp"

namespace brook::detail {

class ReliableReceiver final : public Receiver {
 public:
  ReliableReceiver(zmq::context_t& context, const PortSpec& port, const ChannelSpec& channel,
                   const ListenAddress& listen, std::chrono::milliseconds linger,
                   ChannelCounters& counters, const Security& security);

  Received receive(zmq::message_t& body, std::string& peer, std::string& why) override;
  bool admit(const EnvelopeView& env, const std::string& peer,
             const zmq::message_t& frame) override;
  bool acknowledges() const noexcept override { return true; }
  void settle(const MessageId& id, const std::string& peer, Settle how) override;
  void release(const std::string& peer, std::string_view producer, std::uint64_t seq) override;
  void flush_acks() override;
  void begin_drain() override;
  bool turn_away(const std::string& peer) override;
  void give_back(const MessageId& id, const std::string& peer) override;
  void seed_handled(
      const std::map<std::string, std::vector<std::uint64_t>, std::less<>>& handled) override;
  std::chrono::steady_clock::time_point next_wakeup() const noexcept override {
    return held_.empty() ? std::chrono::steady_clock::time_point::max() : next_held_try_;
  }

 private:
  struct Claim {
    std::string connection;  // routing id of a connection that speaks for the producer id
    DedupeWindow handled;
    std::uint64_t last_used = 0;  // use_clock_ when it last admitted a message
  };
  struct Producer {
    std::vector<Claim> claims;  // one per connection speaking for it, in order of arrival
  };
  using Producers = std::map<std::string, Producer, std::less<>>;

  // The record of what env's producer handled on connection `peer`: its own, one whose
  // connection is gone (taken over), or a new one; nullptr, counted and logged, when under CURVE
  // the connection's key is not the producer's node's, and nullptr with `contested` set while
  // another connection for the id is open (within kContestGrace).
  Claim* claim(const EnvelopeView& env, const std::string& peer, const zmq::message_t& frame,
               bool& contested);
  // Keeps an envelope for later (front: one tried again and still contested).
  void hold(const EnvelopeView& env, const std::string& peer, const zmq::message_t& frame,
            bool front);
  Claim* find_claim(std::string_view producer, const std::string& peer);
  void refuse(const EnvelopeView& env, const zmq::message_t& frame, const std::string& why);
  // Whether the connection with this routing id is still there (ROUTER_MANDATORY): probes it
  // with an empty acknowledgement.
  bool connected(const std::string& routing_id);
  Claim& add_claim(std::string_view producer, const std::string& peer);
  // A new record's window: what an earlier incarnation committed for the producer, or empty.
  DedupeWindow fresh_window(std::string_view producer) const;
  bool deferred(const MessageId& id);
  void mark_handled(const MessageId& id, const std::string& peer);
  void undefer(std::string_view producer, std::uint64_t seq);
  void queue_ack(const std::string& peer, std::uint64_t seq);
  enum class Sent { kSent, kFull, kGone };
  // Sends [routing id][frame].
  Sent send_frame(const std::string& routing_id, const msgpack::sbuffer& frame);
  void send_drain(const std::string& routing_id);

  bool curve_;
  Producers producers_;  // by producer id
  LastFound<Producers> last_producer_;
  std::size_t claims_ = 0;
  // From the state store's inbox at start (at most kMaxClaimsRemembered producers).
  std::map<std::string, DedupeWindow, std::less<>> seeds_;
  std::uint64_t use_clock_ = 0;
  using Acks = std::map<std::string, std::vector<std::uint64_t>, std::less<>>;
  Acks acks_;  // by routing id
  LastFound<Acks> last_acks_;
  std::size_t acks_waiting_ = 0;
  // By producer. Node-recycling sets, and a producer's emptied set is kept (up to
  // kKeptDeferredSets of them): deferring a message per message must not allocate.
  using SeqSet =
      std::unordered_set<std::uint64_t, std::hash<std::uint64_t>, std::equal_to<std::uint64_t>,
                         RecyclingAllocator<std::uint64_t>>;
  static constexpr std::size_t kKeptDeferredSets = 64;
  using Deferred = std::map<std::string, SeqSet, std::less<>>;
  Deferred deferred_;
  LastFound<Deferred> last_deferred_;
  std::size_t deferred_count_ = 0;  // messages in deferred_
  std::size_t max_acks_per_frame_;
  msgpack::sbuffer ack_buffer_;
  bool draining_ = false;
  msgpack::sbuffer drain_buffer_;
  std::unordered_set<std::string> drained_;  // connections told to send nothing new
  LogRateLimiter forged_log_;
  LogRateLimiter jump_log_;
  LogRateLimiter contested_log_{std::chrono::seconds(10)};
  // "producer\0connection" -> since when that connection speaks for the id while another is
  // open, as far as this process watched (claim()), and when it last looked.
  struct Contest {
    std::chrono::steady_clock::time_point since;
    std::chrono::steady_clock::time_point seen;
  };
  std::map<std::string, Contest> contested_;
  struct Held {
    std::string peer;
    zmq::message_t frame;
  };
  std::deque<Held> held_;                                    // in arrival order
  std::map<std::string, std::size_t, std::less<>> held_by_;  // connection -> envelopes held
  std::size_t max_held_;
  std::size_t held_bytes_ = 0;
  std::chrono::steady_clock::time_point next_held_try_{};
  bool replaying_ = false;  // receive() gave a held envelope: admit() sees it again
  LogRateLimiter held_log_{std::chrono::seconds(10)};
};

}  // namespace brook::detail
