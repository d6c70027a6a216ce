#include "runtime/consumer_group.hpp"

#include <brook/envelope.hpp>
#include <brook/log.hpp>

#include <algorithm>

#include "runtime/socket_setup.hpp"
#include "wire/control_frames.hpp"

namespace brook::detail {

std::uint64_t key_hash(std::string_view key) noexcept {
  std::uint64_t h = 1469598103934665603ull;
  for (const char c : key) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h == 0 ? 1 : h;
}

namespace {
constexpr auto kTimeoutScanPeriod = std::chrono::milliseconds(100);

// splitmix64 finaliser: spreads (key, replica) pairs evenly for rendezvous hashing.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

zmq::socket_type socket_type_for(bool reliable) {
  return reliable ? zmq::socket_type::router : zmq::socket_type::push;
}
}  // namespace

ConsumerGroup::ConsumerGroup(zmq::context_t& context, const ChannelSpec& channel, std::string node,
                             bool tap, std::chrono::milliseconds linger, ChannelCounters& counters,
                             const Security& security)
    : node_(std::move(node)),
      tap_(tap),
      reliable_(channel.reliable() && !tap),
      channel_(&channel),
      max_pending_(tap ? 0 : channel.max_pending),
      counters_(counters),
      socket_(context, socket_type_for(reliable_)),
      security_(&security),
      window_(reliable_ ? channel.window : 1) {
  configure_data_socket(socket_, channel, linger);
  if (reliable_) {
    // A send to a replica that is gone or full fails at once instead of vanishing: the
    // producer then picks another replica or keeps the message.
    socket_.set(zmq::sockopt::router_mandatory, 1);
  } else {
    // Only completed connections take messages: nothing is parked in the pipe of a replica that
    // never came up (or died), where it would be lost.
    socket_.set(zmq::sockopt::immediate, 1);
  }
  if (tap_) socket_.set(zmq::sockopt::sndhwm, 1000);
  monitor_ = std::make_unique<SocketMonitor>(
      context, socket_, ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED);
}

void ConsumerGroup::add_replica(const DirectoryEntry& e) {
  const auto& ep = e.reg.endpoint;
  if (replicas_.count(ep)) return;
  Replica r;
  r.id = next_replica_id_++;
  r.name = e.instance_name() + "@" + e.incarnation;
  // Appended rather than `"r" + std::to_string(...)`, which trips GCC 12's false -Wrestrict at -O3.
  r.routing_id = std::to_string(r.id);
  r.routing_id.insert(r.routing_id.begin(), 'r');
  r.hash = key_hash(r.name);
  try {
    security_->configure_client(socket_, node_);  // options are taken at connect time
    if (reliable_) socket_.set(zmq::sockopt::connect_routing_id, r.routing_id);
    socket_.connect(ep);
    replicas_.emplace(ep, std::move(r));
  } catch (const ConfigError& err) {
    BROOK_LOG(kWarn) << "not connecting to " << e.instance_name() << " at " << ep << ": "
                     << err.what();
  } catch (const zmq::error_t& err) {
    BROOK_LOG(kWarn) << "cannot connect to " << e.instance_name() << " at " << ep << ": "
                     << err.what();
  }
}

void ConsumerGroup::remove_replica(const DirectoryEntry& e) {
  const auto it = replicas_.find(e.reg.endpoint);
  if (it == replicas_.end()) return;
  disconnected(it->second);
  replicas_.erase(it);
  try {
    socket_.disconnect(e.reg.endpoint);
  } catch (const zmq::error_t&) {
    // The connection may already be gone; nothing else to undo.
  }
}

std::size_t ConsumerGroup::connected_replicas() const noexcept {
  return static_cast<std::size_t>(std::count_if(
      replicas_.begin(), replicas_.end(), [](const auto& kv) { return kv.second.connected; }));
}

bool ConsumerGroup::all_connected() const noexcept {
  return !replicas_.empty() && connected_replicas() == replicas_.size();
}

ConsumerGroup::Replica* ConsumerGroup::replica_by_id(std::uint32_t id) {
  for (auto& [ep, r] : replicas_) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

std::size_t ConsumerGroup::pending() const noexcept {
  return reliable_ ? held_.size() + unsent_.size() : pending_.size();
}

// ---- best-effort and shared -------------------------------------------------------------------

std::uint64_t ConsumerGroup::oldest_unacked() const noexcept {
  if (!reliable_) return 0;
  if (const std::uint64_t w = window_.oldest(); w != 0) return w;  // held ones are newer
  return held_.empty() ? 0 : held_.front().seq;
}

Offer ConsumerGroup::offer(zmq::message_t& msg, std::uint64_t seq, std::uint64_t key_hash,
                           bool force) {
  if (!reliable_) {
    if (pending_.empty()) {
      if (socket_.send(msg, zmq::send_flags::dontwait)) return Offer::kSent;
    }
    if (pending_.size() >= max_pending_) return Offer::kFull;
    pending_.emplace_back(std::move(msg));
    return Offer::kQueued;
  }
  // max_pending bounds what waits for a replica (held, or in the window unsent); what is in
  // flight is bounded by the window.
  const bool direct = held_.empty() && unsent_.empty() && window_.has_room(seq);
  if (!force && (!direct || connected_replicas() == 0) && pending() >= max_pending_) {
    return Offer::kFull;
  }
  if (!held_.empty() || !window_.has_room(seq)) {
    held_.push_back(Held{seq, key_hash, std::move(msg)});
    return Offer::kQueued;
  }
  InFlightWindow::Entry& e = window_.insert(seq, std::move(msg), key_hash);
  if (unsent_.empty() && send_reliable(e, Clock::now())) return Offer::kSent;
  unsent_.push_back(seq);
  return Offer::kQueued;
}

std::size_t ConsumerGroup::flush() {
  std::size_t sent = 0;
  if (!reliable_) {
    while (!pending_.empty()) {
      if (!socket_.send(pending_.front(), zmq::send_flags::dontwait)) break;
      pending_.pop_front();
      ++sent;
    }
    return sent;
  }
  const auto now = Clock::now();
  while (!unsent_.empty()) {
    InFlightWindow::Entry* e = window_.find(unsent_.front());
    if (e == nullptr || e->replica != InFlightWindow::kUnsent) {
      unsent_.pop_front();  // acknowledged meanwhile (a late ack of an earlier send)
      continue;
    }
    if (!send_reliable(*e, now)) break;
    unsent_.pop_front();
    ++sent;
  }
  while (!held_.empty() && unsent_.empty() && window_.has_room(held_.front().seq)) {
    Held h = std::move(held_.front());
    held_.pop_front();
    const std::uint64_t seq = h.seq;
    InFlightWindow::Entry& e = window_.insert(seq, std::move(h.msg), h.key_hash);
    if (!send_reliable(e, now)) {
      unsent_.push_back(seq);
      break;
    }
    ++sent;
  }
  return sent;
}

void ConsumerGroup::on_monitor_event() {
  monitor_->drain([&](int event, std::int32_t, const std::string& endpoint) {
    const auto it = replicas_.find(endpoint);
    if (it == replicas_.end()) return;  // a replica we already disconnected
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      it->second.connected = true;
    } else if (event == ZMQ_EVENT_DISCONNECTED) {
      disconnected(it->second);
    }
  });
}

// ---- at-least-once ----------------------------------------------------------------------------

bool ConsumerGroup::send_reliable(InFlightWindow::Entry& e, Clock::time_point now) {
  // Candidates: connected replicas, fewest unacknowledged first (credit-based sharing: a slow
  // replica gets less, a stopped one nothing new once its queue is full).
  candidates_.clear();
  for (auto& [ep, r] : replicas_) {
    if (r.connected) candidates_.push_back(&r);
  }
  if (channel_->order_by_key && e.key_hash != 0 && !candidates_.empty()) {
    // One owner per key: the connected replica with the highest score. If its pipe is full the
    // message waits (and everything behind it): sending it elsewhere would break the order.
    Replica* owner = candidates_.front();
    for (Replica* r : candidates_) {
      if (mix(e.key_hash ^ r->hash) > mix(e.key_hash ^ owner->hash)) owner = r;
    }
    candidates_.assign(1, owner);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), [](const Replica* a, const Replica* b) {
      return a->in_flight < b->in_flight;
    });
  }
  for (Replica* candidate : candidates_) {
    Replica& r = *candidate;
    zmq::message_t copy;
    copy.copy(e.frame);
    try {
      if (!socket_.send(zmq::buffer(r.routing_id), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
        continue;  // this replica's pipe is full
      }
    } catch (const zmq::error_t& err) {
      if (err.num() == EHOSTUNREACH) {
        r.connected = false;  // not (or no longer) connected; the monitor will say when it is
        continue;
      }
      throw;
    }
    (void)socket_.send(copy, zmq::send_flags::dontwait);  // a started message always completes
    ++r.in_flight;
    window_.mark_sent(e, r.id, now);
    return true;
  }
  return false;
}

void ConsumerGroup::requeue(std::vector<std::uint64_t>& seqs) {
  if (seqs.empty()) return;
  counters_.redelivered += seqs.size();
  // Oldest first, ahead of later first sends, so re-sent messages are not starved.
  std::vector<std::uint64_t> merged(seqs.begin(), seqs.end());
  merged.insert(merged.end(), unsent_.begin(), unsent_.end());
  std::sort(merged.begin(), merged.end());
  merged.erase(std::unique(merged.begin(), merged.end()), merged.end());
  unsent_.assign(merged.begin(), merged.end());
  seqs.clear();
}

void ConsumerGroup::disconnected(Replica& r) {
  r.connected = false;
  if (!reliable_ || r.in_flight == 0) return;
  // Whatever it had not acknowledged may be lost with it: give it to the others now. If it was
  // only a network blip and the replica handles them too, that is a duplicate, which
  // at-least-once allows (and de-duplication catches when it reaches the same replica).
  scratch_.clear();
  window_.release(r.id, scratch_);
  BROOK_LOG(kInfo) << "replica " << r.name << " of '" << node_ << "' on '" << channel_->name
                   << "' is gone with " << scratch_.size()
                   << " unacknowledged messages; re-sending them to the others";
  r.in_flight = 0;
  requeue(scratch_);
}

void ConsumerGroup::on_readable(const std::function<void(std::uint64_t)>& acked) {
  if (!reliable_) return;
  zmq::message_t id;
  zmq::message_t body;
  for (int i = 0; i < 256; ++i) {
    if (!socket_.recv(id, zmq::recv_flags::dontwait)) break;
    if (!id.more()) continue;
    (void)socket_.recv(body, zmq::recv_flags::none);
    while (body.more()) (void)socket_.recv(body, zmq::recv_flags::none);
    const std::span<const std::byte> frame(static_cast<const std::byte*>(body.data()), body.size());
    if (!decode_ack(frame, acked_seqs_)) {
      ++counters_.decode_errors;
      continue;
    }
    for (const std::uint64_t seq : acked_seqs_) {
      std::uint32_t replica = InFlightWindow::kUnsent;
      if (!window_.ack(seq, replica)) continue;
      if (replica != InFlightWindow::kUnsent) {
        if (Replica* r = replica_by_id(replica); r != nullptr && r->in_flight > 0) --r->in_flight;
      }
      if (acked) acked(seq);
    }
  }
}

void ConsumerGroup::tick(Clock::time_point now) {
  if (!reliable_ || now < next_timeout_scan_) return;
  next_timeout_scan_ = now + kTimeoutScanPeriod;
  if (window_.in_flight() == 0) return;
  scratch_.clear();
  scratch_replicas_.clear();
  window_.release_sent_before(now - channel_->ack_timeout, scratch_, scratch_replicas_);
  if (scratch_.empty()) return;
  for (const auto id : scratch_replicas_) {
    if (Replica* r = replica_by_id(id); r != nullptr && r->in_flight > 0) --r->in_flight;
  }
  BROOK_LOG(kWarn) << scratch_.size() << " messages on '" << channel_->name << "' to '" << node_
                   << "' not acknowledged within " << channel_->ack_timeout.count()
                   << " ms; re-sending them";
  requeue(scratch_);
}

}  // namespace brook::detail
