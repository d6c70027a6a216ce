#include "runtime/delivery_tracker.hpp"

#include <algorithm>
#include <brook/log.hpp>

namespace brook::detail {

DeliveryTracker::DeliveryTracker(DeadLetterFn dead_letter, std::size_t outputs)
    : dead_letter_(std::move(dead_letter)), children_(outputs) {}

DeliveryTracker::Pending& DeliveryTracker::pending_of(Attempt& a) {
  if (a.token == 0) {
    a.token = next_token_++;
    Pending& p = pending_[a.token];
    p.in = &a.in;
    p.peer = a.peer;
    const std::string_view producer = a.env.id.producer.substr(0, p.producer_bytes.size());
    std::copy(producer.begin(), producer.end(), p.producer_bytes.begin());
    p.producer_size = static_cast<std::uint8_t>(producer.size());
    p.seq = a.env.id.seq;
    return p;
  }
  return pending_[a.token];
}

void DeliveryTracker::finish(SeqMap<Pending>::iterator it) {
  std::vector<std::uint64_t> riders = std::move(it->second.riders);
  it->second.in->release(it->second.peer, it->second.producer(), it->second.seq);
  pending_.erase(it);
  for (const std::uint64_t r : riders)
    release_hold(r, nullptr);
}

void DeliveryTracker::undo(SeqMap<Pending>::iterator it) {
  std::vector<std::uint64_t> riders = std::move(it->second.riders);
  Pending& p = it->second;
  p.in->give_back(MessageId{p.producer(), p.seq}, p.peer);
  ++p.in->counters().declined;
  pending_.erase(it);
  for (const std::uint64_t r : riders)
    give_back(r);
}

std::size_t DeliveryTracker::awaiting_downstream() const {
  return static_cast<std::size_t>(
      std::count_if(pending_.begin(), pending_.end(), [](const auto& kv) {
        return kv.second.outstanding > kv.second.holds || !kv.second.riders.empty();
      }));
}

std::uint64_t DeliveryTracker::hold(Attempt& a) {
  if (!a.in.acknowledges()) return 0;
  Pending& p = pending_of(a);
  ++p.outstanding;
  ++p.holds;
  return a.token;
}

void DeliveryTracker::release_hold(std::uint64_t token, Attempt* after) {
  const auto it = pending_.find(token);
  if (it == pending_.end() || it->second.holds == 0) return;
  if (after != nullptr && after->token != token && after->in.acknowledges()) {
    pending_of(*after).riders.push_back(token);
    return;
  }
  Pending& p = it->second;
  --p.holds;
  --p.outstanding;
  if (p.outstanding == 0 && p.handler_done) finish(it);
}

void DeliveryTracker::give_back(std::uint64_t token) {
  const auto it = pending_.find(token);
  if (it == pending_.end()) return;
  if (!it->second.handler_done) {
    it->second.given_back = true;  // settle() declines it when the handler returns
    return;
  }
  undo(it);
}

void DeliveryTracker::emitted(Attempt& a, std::size_t output, std::uint64_t seq,
                              std::size_t takers) {
  if (takers == 0 || !a.in.acknowledges()) return;
  pending_of(a).outstanding += takers;
  if (output >= children_.size()) children_.resize(output + 1);
  children_[output][seq] = Child{a.token, takers};
}

void DeliveryTracker::acked(std::size_t output, std::uint64_t seq) {
  if (output >= children_.size()) return;
  auto& children = children_[output];
  const auto c = children.find(seq);
  if (c == children.end()) return;
  const std::uint64_t token = c->second.token;
  if (--c->second.acks_left == 0) children.erase(c);
  const auto it = pending_.find(token);
  if (it == pending_.end()) return;  // its attempt failed and a retry owns the message
  Pending& p = it->second;
  if (p.outstanding > 0) --p.outstanding;
  if (p.outstanding == 0 && p.handler_done) finish(it);
}

void DeliveryTracker::settle(Attempt& a) {
  if (!a.in.acknowledges()) return;
  const auto it = a.token != 0 ? pending_.find(a.token) : pending_.end();
  if (it == pending_.end()) {
    a.in.settle(a.env.id, a.peer, Receiver::Settle::kAck);
    return;
  }
  Pending& p = it->second;
  p.handler_done = true;
  // Deferred first in every case: release() and give_back() act on a settled message.
  a.in.settle(a.env.id, a.peer, Receiver::Settle::kDefer);
  if (p.given_back) {
    undo(it);
  } else if (p.outstanding == 0) {
    finish(it);
  }
}

bool DeliveryTracker::failed(Attempt& a, zmq::message_t& frame, const std::string& error,
                             bool stopping) {
  auto& counters = a.in.counters();
  ++counters.handler_errors;
  const auto& policy = a.in.channel().retry;
  const std::string& dead_letter = a.in.channel().dead_letter;
  const std::uint32_t attempt = a.env.attempt;
  const std::optional<std::chrono::milliseconds> delay =
      stopping ? std::nullopt : backoff_.next(policy, attempt);
  std::uint64_t suppressed = 0;
  if (handler_log_.allow(suppressed)) {
    BROOK_LOG(kError) << "handler for port '" << a.in.port() << "' threw on message "
                      << a.env.id.producer << "/" << a.env.id.seq << " (attempt " << attempt
                      << " of " << policy.max_attempts << "): " << error << "; "
                      << (delay                 ? "retrying"
                          : dead_letter.empty() ? "giving up (no dead_letter channel)"
                                                : "dead-lettering to '" + dead_letter + "'")
                      << " (" << counters.handler_errors << " handler errors on this channel"
                      << (suppressed ? ", " + std::to_string(suppressed) + " not logged" : "")
                      << ")";
  }
  if (!delay) {
    if (!dead_letter.empty() && dead_letter_(a, attempt, error)) {
      ++counters.dead_lettered;
    }
    return false;
  }
  // What the failed attempt emitted was discarded; acks of earlier sends must no longer
  // release this message, which the retry now owns. Holds it released go back to their
  // producers: the release was part of the failed attempt.
  if (a.token != 0) {
    if (const auto it = pending_.find(a.token); it != pending_.end()) {
      const std::vector<std::uint64_t> riders = std::move(it->second.riders);
      pending_.erase(it);
      for (const std::uint64_t r : riders)
        give_back(r);
    }
    a.token = 0;
  }
  Retry r;
  r.in = &a.in;
  r.frame.copy(frame);
  r.peer = a.peer;
  r.attempt = attempt + 1;
  // Re-sends meanwhile are recognised, not handled twice.
  if (a.in.acknowledges()) a.in.settle(a.env.id, a.peer, Receiver::Settle::kDefer);
  retries_.emplace(Clock::now() + *delay, std::move(r));
  return true;
}

void DeliveryTracker::undecodable(Attempt& a, const std::string& error, const std::string& from) {
  auto& counters = a.in.counters();
  ++counters.decode_errors;
  std::uint64_t suppressed = 0;
  if (decode_log_.allow(suppressed)) {
    // The error names the types involved (a mismatch, or what the payload does not convert to).
    BROOK_LOG(kWarn) << "port '" << a.in.port() << "': message " << a.env.id.producer << "/"
                     << a.env.id.seq << " from " << from << ": " << error << " ("
                     << counters.decode_errors << " decode errors on this channel)";
  }
  if (!a.in.channel().dead_letter.empty() && dead_letter_(a, a.env.attempt, error)) {
    ++counters.dead_lettered;
  }
}

DeliveryTracker::Clock::time_point DeliveryTracker::next_retry() const noexcept {
  return retries_.empty() ? Clock::time_point::max() : retries_.begin()->first;
}

void DeliveryTracker::run_due(
    Clock::time_point now,
    const std::function<void(Receiver&, zmq::message_t&, const std::string&, std::uint32_t)>&
        attempt) {
  while (!retries_.empty() && retries_.begin()->first <= now) {
    auto node = retries_.extract(retries_.begin());
    Retry& r = node.mapped();
    attempt(*r.in, r.frame, r.peer, r.attempt);
    r.in->flush_acks();
  }
}

}  // namespace brook::detail
