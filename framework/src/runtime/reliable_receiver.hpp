// An at-least-once pipeline input: a ROUTER socket, so each message arrives with its producer's
// routing id, where its acknowledgement goes once settled. Remembers which messages of each
// producer it handled (DedupeWindow) so a re-send — its ack was lost or late, or its replica
// was presumed dead — is acknowledged again instead of handled twice.
//
// Bounds: 4096 producers remembered (each restart is a new producer id); acknowledgements are
// sent in frames of at most 1024 numbers that fit the channel's max_message_size.
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
  bool admit(const EnvelopeView& env, const std::string& peer) override;
  bool acknowledges() const noexcept override { return true; }
  void settle(const MessageId& id, const std::string& peer, Settle how) override;
  void release(const std::string& peer, std::string_view producer, std::uint64_t seq) override;
  void flush_acks() override;

 private:
  bool handled(const MessageId& id) const;
  bool deferred(const MessageId& id) const;
  void mark_handled(const MessageId& id);
  void undefer(std::string_view producer, std::uint64_t seq);
  void queue_ack(const std::string& peer, std::uint64_t seq);

  std::map<std::string, DedupeWindow, std::less<>> seen_;                // by producer id
  std::map<std::string, std::vector<std::uint64_t>, std::less<>> acks_;  // by routing id
  std::size_t acks_waiting_ = 0;
  std::map<std::string, std::unordered_set<std::uint64_t>, std::less<>> deferred_;  // by producer
  std::size_t max_acks_per_frame_;
  msgpack::sbuffer ack_buffer_;
};

}  // namespace brook::detail
