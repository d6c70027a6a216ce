#include "runtime/reliable_sender.hpp"

#include <algorithm>
#include <brook/log.hpp>

#include "util/coarse_clock.hpp"
#include "wire/control_frames.hpp"

namespace brook::detail {

namespace {
using namespace std::chrono_literals;
constexpr auto kTimeoutScanPeriod = 100ms;
// What waits while a replica is connected but its pipe was full is retried this soon.
constexpr auto kRetryPeriod = 1ms;
constexpr int kMaxAckFramesPerRead = 256;

// splitmix64 finaliser: spreads (key, replica) pairs evenly for rendezvous hashing.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
}  // namespace

ReliableSender::ReliableSender(zmq::context_t& context, const ChannelSpec& channel,
                               std::string node, std::chrono::milliseconds linger,
                               ChannelCounters& counters, const Security& security)
    : GroupSender(context, zmq::socket_type::router, channel, std::move(node), false, linger,
                  counters, security),
      linger_(linger),
      window_(channel.window) {
  // A send to a replica that is gone or full fails at once instead of vanishing: the sender
  // then picks another replica or keeps the message.
  socket_.set(zmq::sockopt::router_mandatory, 1);
  // The replica set reconnects, not libzmq: a pipe kept across libzmq's reconnect would deliver
  // what the loop sends after a drop ahead of the lost messages it re-sends (ReplicaSet).
  socket_.set(zmq::sockopt::reconnect_ivl, -1);
  // libzmq then ends a dropped connection itself, with the linger the socket has at that moment:
  // what its pipe still queues was taken back (re-sent), so lingering for it would only hold the
  // process's exit (zmq_ctx_term) for drain_timeout. The linger applies at close (destructor).
  socket_.set(zmq::sockopt::linger, 0);
}

ReliableSender::~ReliableSender() {
  // Once every message was acknowledged, what the socket still queues are re-sends to a replica
  // that is gone: it closes at once. Otherwise what is queued for connected replicas may still
  // reach them within drain_timeout.
  if (window_.in_flight() > 0 || !held_.empty()) {
    try {
      socket().set(zmq::sockopt::linger, static_cast<int>(linger_.count()));
    } catch (const zmq::error_t&) {
      // A socket that cannot take the option closes at once: only what was queued is lost.
    }
  }
}

std::uint64_t ReliableSender::oldest_unacked() const noexcept {
  if (const std::uint64_t w = window_.oldest(); w != 0) return w;  // held ones are newer
  return held_.empty() ? 0 : held_.front().seq;
}

ReliableSender::Clock::time_point ReliableSender::oldest_unacked_since() const noexcept {
  return window_.oldest_stored_at();  // held ones are newer
}

Offer ReliableSender::offer(zmq::message_t& msg, std::uint64_t seq, std::uint64_t key_hash,
                            bool force, std::uint64_t tag) {
  const bool direct = held_.empty() && unsent_.empty() && window_.has_room(seq);
  if (!force && (!direct || replicas_.available() == 0) && pending() >= max_pending_) {
    return Offer::kFull;
  }
  if (!held_.empty() || !window_.has_room(seq)) {
    held_.push_back(Held{seq, key_hash, tag, std::move(msg)});
    return Offer::kQueued;
  }
  const auto now = coarse_now();  // per message: ack_timeout is far longer than a tick
  InFlightWindow::Entry& e = window_.insert(seq, std::move(msg), key_hash, now, tag);
  if (unsent_.empty() && send(e, now)) return Offer::kSent;
  unsent_.push_back(seq);
  retry_at_ = Clock::now() + kRetryPeriod;  // not the coarse `now`: it may be a tick behind
  return Offer::kQueued;
}

std::size_t ReliableSender::flush() {
  if (unsent_.empty() && held_.empty()) return 0;  // every emit() calls it: no clock read then
  std::size_t sent = 0;
  const auto now = coarse_now();
  while (!unsent_.empty()) {
    InFlightWindow::Entry* e = window_.find(unsent_.front());
    if (e == nullptr || e->replica != InFlightWindow::kUnsent) {
      unsent_.pop_front();  // acknowledged meanwhile (a late ack of an earlier send)
      continue;
    }
    if (!send(*e, now)) break;
    unsent_.pop_front();
    ++sent;
  }
  while (!held_.empty() && unsent_.empty() && window_.has_room(held_.front().seq)) {
    Held h = std::move(held_.front());
    held_.pop_front();
    const std::uint64_t seq = h.seq;
    InFlightWindow::Entry& e = window_.insert(seq, std::move(h.msg), h.key_hash, now, h.tag);
    if (!send(e, now)) {
      unsent_.push_back(seq);
      break;
    }
    ++sent;
  }
  if (!unsent_.empty()) retry_at_ = Clock::now() + kRetryPeriod;
  return sent;
}

void ReliableSender::pick_candidates(const InFlightWindow::Entry& e) {
  candidates_.clear();
  if (channel_->order_by_key && e.key_hash != 0) {
    // One owner per key: the replica with the highest score among those connected or
    // reconnecting after a drop. If it is reconnecting or its pipe is full the message waits
    // (and everything behind it): sending it elsewhere would break the order.
    Replica* owner = nullptr;
    replicas_.for_each([&](Replica& r) {
      if (!(r.connected || r.keeps_keys) || r.draining) return;
      if (owner == nullptr || mix(e.key_hash ^ r.hash) > mix(e.key_hash ^ owner->hash)) owner = &r;
    });
    if (owner != nullptr && owner->connected) candidates_.push_back(owner);
    return;
  }
  replicas_.for_each([&](Replica& r) {
    if (r.connected && !r.draining) candidates_.push_back(&r);
  });
  if (candidates_.size() < 2) return;
  // Fewest unacknowledged first (credit-based sharing: a slow replica gets less, a stopped one
  // nothing new once its pipe is full). Equally loaded replicas take turns: at low rates every
  // replica is at 0, and endpoint order would give all the work to the first.
  std::rotate(candidates_.begin(), candidates_.begin() + turn_ % candidates_.size(),
              candidates_.end());
  // Insertion sort: stable, in place (std::stable_sort may allocate), and n is a few replicas.
  for (std::size_t i = 1; i < candidates_.size(); ++i) {
    Replica* r = candidates_[i];
    std::size_t j = i;
    for (; j > 0 && candidates_[j - 1]->in_flight > r->in_flight; --j) {
      candidates_[j] = candidates_[j - 1];
    }
    candidates_[j] = r;
  }
}

bool ReliableSender::send(InFlightWindow::Entry& e, Clock::time_point now) {
  pick_candidates(e);
  for (Replica* candidate : candidates_) {
    Replica& r = *candidate;
    try {
      if (!socket_.send(zmq::buffer(r.routing_id),
                        zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
        continue;  // this replica's pipe is full
      }
    } catch (const zmq::error_t& err) {
      if (err.num() == EHOSTUNREACH) {
        replicas_.lost(r);  // its drop event, already queued, reconnects it
        continue;
      }
      throw;
    }
    zmq::message_t copy;
    copy.copy(e.frame);
    (void)socket_.send(copy, zmq::send_flags::dontwait);  // a started message always completes
    ++r.in_flight;
    ++turn_;
    window_.mark_sent(e, r.id, now);
    return true;
  }
  return false;
}

void ReliableSender::requeue(std::vector<std::uint64_t>& seqs) {
  if (seqs.empty()) return;
  counters_.redelivered += seqs.size();
  // Oldest first, ahead of later first sends, so re-sent messages are not starved.
  std::vector<std::uint64_t> merged(seqs.begin(), seqs.end());
  for (std::size_t i = 0; i < unsent_.size(); ++i)
    merged.push_back(unsent_[i]);
  std::sort(merged.begin(), merged.end());
  merged.erase(std::unique(merged.begin(), merged.end()), merged.end());
  unsent_.clear();
  for (const std::uint64_t seq : merged)
    unsent_.push_back(seq);
  seqs.clear();
}

void ReliableSender::replica_gone(Replica& r) {
  if (r.in_flight == 0) return;
  // Whatever it had not acknowledged may be lost with it: give it to the others now. If it was
  // only a network blip and the replica handles them too, that is a duplicate, which
  // at-least-once allows (and de-duplication catches when it reaches the same replica).
  scratch_.clear();
  window_.release(r.id, scratch_);
  BROOK_LOG(kInfo) << "replica " << r.name << " of '" << node() << "' on '" << channel_->name
                   << "' is gone with " << scratch_.size()
                   << " unacknowledged messages; re-sending them to the others";
  r.in_flight = 0;
  requeue(scratch_);
}

void ReliableSender::replica_draining(std::string_view routing_id) {
  Replica* found = nullptr;
  replicas_.for_each([&](Replica& r) {
    if (r.routing_id == routing_id) found = &r;
  });
  if (found == nullptr || found->draining) return;
  found->draining = true;
  // What it holds stays with it: it acknowledges that before it leaves, so nothing is re-sent
  // (reliability.md, graceful stop). New messages go to the others, or wait for a replica.
  BROOK_LOG(kInfo) << "replica " << found->name << " of '" << node() << "' on '" << channel_->name
                   << "' is stopping: nothing new goes to it (" << found->in_flight
                   << " unacknowledged stay with it)";
}

void ReliableSender::read_acks(const AckedFn& acked) {
  zmq::message_t id;
  zmq::message_t body;
  for (int i = 0; i < kMaxAckFramesPerRead; ++i) {
    if (!socket_.recv(id, zmq::recv_flags::dontwait)) break;
    if (!id.more()) continue;
    (void)socket_.recv(body, zmq::recv_flags::none);
    while (body.more())
      (void)socket_.recv(body, zmq::recv_flags::none);
    const std::span<const std::byte> frame(static_cast<const std::byte*>(body.data()), body.size());
    if (is_drain(frame)) {
      replica_draining(std::string_view(static_cast<const char*>(id.data()), id.size()));
      continue;
    }
    if (!decode_ack(frame, acked_seqs_)) {
      ++counters_.decode_errors;
      continue;
    }
    for (const std::uint64_t seq : acked_seqs_) {
      std::uint32_t replica = InFlightWindow::kUnsent;
      std::uint64_t tag = 0;
      if (!window_.ack(seq, replica, &tag)) continue;
      if (replica != InFlightWindow::kUnsent) {
        if (Replica* r = replicas_.find(replica); r != nullptr && r->in_flight > 0) --r->in_flight;
      }
      if (acked) acked(seq, tag);
    }
  }
}

std::size_t ReliableSender::on_socket_ready(const AckedFn& acked) {
  read_acks(acked);
  return flush();  // acknowledgements made room in the window
}

ReliableSender::Clock::time_point ReliableSender::next_wakeup() const noexcept {
  auto wake = Clock::time_point::max();
  // Nothing to retry while no replica is connected: a handshake (a monitor event) flushes.
  if (!unsent_.empty() && replicas_.available() > 0) wake = retry_at_;
  if (window_.in_flight() > 0) wake = std::min(wake, next_timeout_scan_);
  return std::min(wake, replicas_.next_retry());
}

void ReliableSender::tick(Clock::time_point now) {
  if (replicas_.next_retry() <= now)
    replicas_.retry_due(now, [this](Replica& r) { replica_gone(r); });
  if (now < next_timeout_scan_) return;
  next_timeout_scan_ = now + kTimeoutScanPeriod;
  if (window_.in_flight() == 0) return;
  scratch_.clear();
  scratch_replicas_.clear();
  window_.release_sent_before(now - channel_->ack_timeout, scratch_, scratch_replicas_);
  if (scratch_.empty()) return;
  for (const auto id : scratch_replicas_) {
    if (Replica* r = replicas_.find(id); r != nullptr && r->in_flight > 0) --r->in_flight;
  }
  BROOK_LOG(kWarn) << scratch_.size() << " messages on '" << channel_->name << "' to '" << node()
                   << "' not acknowledged within " << channel_->ack_timeout.count()
                   << " ms; re-sending them";
  requeue(scratch_);
}

}  // namespace brook::detail
