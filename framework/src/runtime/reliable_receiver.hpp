// An at-least-once pipeline input: a ROUTER socket, so each message arrives with its producer's
// routing id, where its acknowledgement goes once settled. Remembers which messages of each
// producer it handled (DedupeWindow) so a re-send — its ack was lost or late, or its replica
// was presumed dead — is acknowledged again instead of handled twice.
//
// A producer id is bound to the connection that first presented it: an envelope claiming it
// from another connection while that one is still connected is dropped and counted as `forged`
// (a producer that reconnects or restarts finds its old connection gone, and takes over). With
// CURVE the envelope's producer node must also be the node whose key the connection proved.
// Otherwise one forged envelope with a huge sequence number would make the producer's later
// messages look like duplicates (docs/security.md).
//
// Bounds: 4096 producers remembered (each restart is a new producer id); acknowledgements are
// sent in frames of at most 1024 numbers that fit the channel's max_message_size, and a
// connection's ack queue is forgotten once a batch passes without acks for it.
#pragma once

#include <map>
#include <msgpack/sbuffer.hpp>
#include <unordered_set>
#include <vector>

#include "runtime/dedupe_window.hpp"
#include "runtime/receiver.hpp"

namespace brook::detail {

class ReliableReceiver final : public Receiver {
 public:
  ReliableReceiver(zmq::context_t& context, const PortSpec& port, const ChannelSpec& channel,
                   const std::string& advertise, std::chrono::milliseconds linger,
                   ChannelCounters& counters, const Security& security);

  Received receive(zmq::message_t& body, std::string& peer, std::string& why) override;
  bool admit(const EnvelopeView& env, const std::string& peer,
             const zmq::message_t& frame) override;
  bool acknowledges() const noexcept override { return true; }
  void settle(const MessageId& id, const std::string& peer, Settle how) override;
  void release(const std::string& peer, std::string_view producer, std::uint64_t seq) override;
  void flush_acks() override;
  void begin_drain() override;

 private:
  struct Producer {
    std::string connection;  // routing id of the connection the producer id is bound to
    DedupeWindow handled;
  };
  using Producers = std::map<std::string, Producer, std::less<>>;

  // The record of env's producer if the connection `peer` (and under CURVE its key) may speak
  // for it, binding it to `peer` when nobody holds it; nullptr, counted and logged, if not.
  Producer* proven(const EnvelopeView& env, const std::string& peer, const zmq::message_t& frame);
  void refuse(const EnvelopeView& env, const zmq::message_t& frame, const std::string& why);
  // Whether the connection with this routing id is still there (ROUTER_MANDATORY): probes it
  // with an empty acknowledgement.
  bool connected(const std::string& routing_id);
  Producers::iterator remember(std::string_view producer, const std::string& peer);
  bool deferred(const MessageId& id) const;
  void mark_handled(const MessageId& id, const std::string& peer);
  void undefer(std::string_view producer, std::uint64_t seq);
  void queue_ack(const std::string& peer, std::uint64_t seq);
  enum class Sent { kSent, kFull, kGone };
  // Sends [routing id][frame].
  Sent send_frame(const std::string& routing_id, const msgpack::sbuffer& frame);
  void send_drain(const std::string& routing_id);

  bool curve_;
  Producers producers_;                                                  // by producer id
  std::map<std::string, std::vector<std::uint64_t>, std::less<>> acks_;  // by routing id
  std::size_t acks_waiting_ = 0;
  std::map<std::string, std::unordered_set<std::uint64_t>, std::less<>> deferred_;  // by producer
  std::size_t max_acks_per_frame_;
  msgpack::sbuffer ack_buffer_;
  bool draining_ = false;
  msgpack::sbuffer drain_buffer_;
  std::unordered_set<std::string> drained_;  // connections told, while draining
  LogRateLimiter forged_log_;
  LogRateLimiter jump_log_;
};

}  // namespace brook::detail
