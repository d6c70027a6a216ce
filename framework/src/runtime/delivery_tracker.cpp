#include "runtime/delivery_tracker.hpp"

#include <algorithm>
#include <brook/log.hpp>

namespace brook::detail {

DeliveryTracker::DeliveryTracker(DeadLetterFn dead_letter) : dead_letter_(std::move(dead_letter)) {}

DeliveryTracker::Pending& DeliveryTracker::pending_of(Attempt& a) {
  Pending* known = a.token != 0 ? pending_.find(a.token) : nullptr;
  if (known == nullptr) {
    auto [token, p] = pending_.emplace();
    a.token = token;
    p.in = &a.in;
    p.peer = a.peer;
    const std::string_view producer = a.env.id.producer.substr(0, p.producer_bytes.size());
    std::copy(producer.begin(), producer.end(), p.producer_bytes.begin());
    p.producer_size = static_cast<std::uint8_t>(producer.size());
    p.seq = a.env.id.seq;
    return p;
  }
  return *known;
}

void DeliveryTracker::finish(std::uint64_t token, Pending& p) {
  std::vector<std::uint64_t> riders = std::move(p.riders);
  p.in->release(p.peer, p.producer(), p.seq);
  pending_.erase(token);
  for (const std::uint64_t r : riders)
    release_hold(r, nullptr);
}

void DeliveryTracker::undo(std::uint64_t token, Pending& p) {
  std::vector<std::uint64_t> riders = std::move(p.riders);
  p.in->give_back(MessageId{p.producer(), p.seq}, p.peer);
  ++p.in->counters().declined;
  pending_.erase(token);
  for (const std::uint64_t r : riders)
    give_back(r);
}

std::size_t DeliveryTracker::awaiting_downstream() const {
  std::size_t n = 0;
  pending_.for_each([&n](const Pending& p) {
    if (p.outstanding > p.holds || !p.riders.empty()) ++n;
  });
  return n;
}

std::uint64_t DeliveryTracker::hold(Attempt& a) {
  if (!a.in.acknowledges()) return 0;
  Pending& p = pending_of(a);
  ++p.outstanding;
  ++p.holds;
  return a.token;
}

void DeliveryTracker::release_hold(std::uint64_t token, Attempt* after) {
  Pending* p = pending_.find(token);
  if (p == nullptr || p->holds == 0) return;
  if (after != nullptr && after->token != token && after->in.acknowledges()) {
    pending_of(*after).riders.push_back(token);
    return;
  }
  --p->holds;
  --p->outstanding;
  if (p->outstanding == 0 && p->handler_done) finish(token, *p);
}

void DeliveryTracker::give_back(std::uint64_t token) {
  Pending* p = pending_.find(token);
  if (p == nullptr) return;
  if (!p->handler_done) {
    p->given_back = true;  // settle() declines it when the handler returns
    return;
  }
  undo(token, *p);
}

std::uint64_t DeliveryTracker::chain(Attempt& a) {
  if (!a.in.acknowledges()) return 0;
  (void)pending_of(a);
  return a.token;
}

void DeliveryTracker::emitted(Attempt& a, std::size_t takers) {
  if (takers == 0 || a.token == 0) return;  // chain(a) made the entry, if a acknowledges
  if (Pending* p = pending_.find(a.token)) p->outstanding += takers;
}

void DeliveryTracker::acked(std::uint64_t tag) {
  Pending* p = pending_.find(tag);
  if (p == nullptr) return;  // its attempt failed and a retry owns the message
  if (p->outstanding > 0) --p->outstanding;
  if (p->outstanding == 0 && p->handler_done) finish(tag, *p);
}

void DeliveryTracker::settle(Attempt& a) {
  if (!a.in.acknowledges()) return;
  Pending* p = a.token != 0 ? pending_.find(a.token) : nullptr;
  if (p == nullptr) {
    a.in.settle(a.env.id, a.peer, Receiver::Settle::kAck);
    return;
  }
  p->handler_done = true;
  // Deferred first in every case: release() and give_back() act on a settled message.
  a.in.settle(a.env.id, a.peer, Receiver::Settle::kDefer);
  if (p->given_back) {
    undo(a.token, *p);
  } else if (p->outstanding == 0) {
    finish(a.token, *p);
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
    if (Pending* p = pending_.find(a.token); p != nullptr) {
      const std::vector<std::uint64_t> riders = std::move(p->riders);
      pending_.erase(a.token);
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
