#include "runtime/reliable_receiver.hpp"

#include <algorithm>

#include "runtime/handling.hpp"
#include "wire/control_frames.hpp"

namespace brook::detail {

namespace {
constexpr std::size_t kMaxAcksPerFrame = 1024;
// Producers remembered for de-duplication; each restart of a producer is a new id.
constexpr std::size_t kMaxProducersRemembered = 4096;
}  // namespace

ReliableReceiver::ReliableReceiver(zmq::context_t& context, const PortSpec& port,
                                   const ChannelSpec& channel, const std::string& advertise,
                                   std::chrono::milliseconds linger, ChannelCounters& counters,
                                   const Security& security)
    : Receiver(context, zmq::socket_type::router, port, channel, advertise, false, linger, counters,
               security),
      // An ack frame must fit the channel's max_message_size, which the producer's socket
      // enforces (a sequence number takes at most 9 bytes; 16 for the array and version).
      max_acks_per_frame_(
          std::clamp<std::size_t>((channel.max_message_size - 16) / 9, 1, kMaxAcksPerFrame)) {
  bind(advertise);
}

Receiver::Received ReliableReceiver::receive(zmq::message_t& body, std::string& peer,
                                             std::string& why) {
  // [producer routing id][envelope]; the id is where the acknowledgement goes.
  if (!socket_.recv(body, zmq::recv_flags::dontwait)) return Received::kNothing;
  peer.assign(static_cast<const char*>(body.data()), body.size());
  if (!body.more()) {
    why = "expected a routing id and an envelope frame, got 1 frame";
    return Received::kMalformed;
  }
  (void)socket_.recv(body, zmq::recv_flags::none);
  if (!body.more()) return Received::kMessage;
  why = "expected 2 frames (routing id, envelope), got " + std::to_string(drain_parts(body, 2));
  return Received::kMalformed;
}

bool ReliableReceiver::admit(const EnvelopeView& env, const std::string& peer) {
  if (!handled(env.id)) return true;
  // A re-send of something already handled here (its ack was lost or late): ack it again,
  // unless its ack is waiting (for what it emitted, or for a retry).
  ++counters_.duplicates;
  if (!deferred(env.id)) queue_ack(peer, env.id.seq);
  return false;
}

bool ReliableReceiver::handled(const MessageId& id) const {
  const auto it = seen_.find(id.producer);
  return it != seen_.end() && it->second.handled(id.seq);
}

bool ReliableReceiver::deferred(const MessageId& id) const {
  const auto it = deferred_.find(id.producer);
  return it != deferred_.end() && it->second.count(id.seq) > 0;
}

void ReliableReceiver::mark_handled(const MessageId& id) {
  auto it = seen_.find(id.producer);
  if (it == seen_.end()) {
    if (seen_.size() >= kMaxProducersRemembered) seen_.erase(seen_.begin());
    it = seen_.emplace(std::string(id.producer), DedupeWindow(dedupe_window_size(*channel_))).first;
  }
  it->second.mark(id.seq);
}

void ReliableReceiver::undefer(std::string_view producer, std::uint64_t seq) {
  if (deferred_.empty()) return;
  if (auto it = deferred_.find(producer); it != deferred_.end()) {
    it->second.erase(seq);
    if (it->second.empty()) deferred_.erase(it);
  }
}

void ReliableReceiver::settle(const MessageId& id, const std::string& peer, Settle how) {
  mark_handled(id);
  if (how == Settle::kDefer) {
    auto it = deferred_.find(id.producer);
    if (it == deferred_.end()) {
      it = deferred_.emplace(std::string(id.producer), std::unordered_set<std::uint64_t>()).first;
    }
    it->second.insert(id.seq);
    return;
  }
  undefer(id.producer, id.seq);
  queue_ack(peer, id.seq);
}

void ReliableReceiver::release(const std::string& peer, std::string_view producer,
                               std::uint64_t seq) {
  undefer(producer, seq);
  queue_ack(peer, seq);
}

void ReliableReceiver::queue_ack(const std::string& peer, std::uint64_t seq) {
  auto a = acks_.find(peer);
  if (a == acks_.end()) a = acks_.emplace(peer, std::vector<std::uint64_t>()).first;
  a->second.push_back(seq);
  if (++acks_waiting_ >= max_acks_per_frame_) flush_acks();
}

void ReliableReceiver::flush_acks() {
  if (acks_waiting_ == 0) return;
  for (auto& [peer, seqs] : acks_) {
    if (seqs.empty()) continue;
    encode_ack(seqs, ack_buffer_);
    // A producer that went away cannot take its acks; it re-sends nothing either.
    if (socket_.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      (void)socket_.send(zmq::buffer(ack_buffer_.data(), ack_buffer_.size()),
                         zmq::send_flags::dontwait);
    }
    seqs.clear();
  }
  acks_waiting_ = 0;
}

}  // namespace brook::detail
