#include "runtime/in_flight_window.hpp"

#include <algorithm>

namespace brook::detail {

namespace {
constexpr std::size_t kInitialRing = 64;
}

InFlightWindow::InFlightWindow(std::size_t capacity)
    : capacity_(capacity), ring_(std::min(capacity, kInitialRing)) {}

bool InFlightWindow::has_room(std::uint64_t seq) const noexcept {
  return base_ == 0 || seq < base_ + capacity_;
}

void InFlightWindow::grow(std::size_t needed) {
  std::size_t size = ring_.size();
  while (size < needed)
    size *= 2;
  std::vector<Entry> bigger(std::min(size, capacity_));
  for (std::uint64_t s = base_; s < top_; ++s) {
    Entry& e = ring_[s % ring_.size()];
    if (e.seq == s) bigger[s % bigger.size()] = std::move(e);
  }
  ring_ = std::move(bigger);
}

InFlightWindow::Entry& InFlightWindow::insert(std::uint64_t seq, zmq::message_t frame,
                                              std::uint64_t key_hash, Clock::time_point now,
                                              std::uint64_t tag) {
  if (base_ == 0) base_ = seq;
  if (seq - base_ >= ring_.size()) grow(static_cast<std::size_t>(seq - base_ + 1));
  Entry& e = ring_[seq % ring_.size()];
  e.seq = seq;
  e.replica = kUnsent;
  e.key_hash = key_hash;
  e.tag = tag;
  e.stored_at = now;
  e.frame = std::move(frame);
  ++stored_;
  if (seq + 1 > top_) top_ = seq + 1;
  return e;
}

InFlightWindow::Entry* InFlightWindow::find(std::uint64_t seq) noexcept {
  if (seq < base_ || seq >= top_) return nullptr;
  Entry& e = ring_[seq % ring_.size()];
  return e.seq == seq ? &e : nullptr;
}

void InFlightWindow::mark_sent(Entry& e, std::uint32_t replica, Clock::time_point now) noexcept {
  if (e.replica == kUnsent) ++in_flight_;
  e.replica = replica;
  e.sent_at = now;
}

bool InFlightWindow::ack(std::uint64_t seq, std::uint32_t& replica, std::uint64_t* tag) noexcept {
  Entry* e = find(seq);
  if (e == nullptr) return false;
  replica = e->replica;
  if (tag != nullptr) *tag = e->tag;
  if (e->replica != kUnsent) --in_flight_;
  e->seq = 0;
  e->replica = kUnsent;
  e->frame = zmq::message_t();
  --stored_;
  advance();
  return true;
}

void InFlightWindow::advance() noexcept {
  while (base_ < top_ && ring_[base_ % ring_.size()].seq != base_)
    ++base_;
}

void InFlightWindow::release(std::uint32_t replica, std::vector<std::uint64_t>& out) noexcept {
  for (std::uint64_t s = base_; s < top_; ++s) {
    Entry& e = ring_[s % ring_.size()];
    if (e.seq != s || e.replica == kUnsent || e.replica != replica) continue;
    e.replica = kUnsent;
    --in_flight_;
    out.push_back(s);
  }
}

void InFlightWindow::release_sent_before(Clock::time_point cutoff, std::vector<std::uint64_t>& out,
                                         std::vector<std::uint32_t>& replicas) noexcept {
  for (std::uint64_t s = base_; s < top_; ++s) {
    Entry& e = ring_[s % ring_.size()];
    if (e.seq != s || e.replica == kUnsent || e.sent_at >= cutoff) continue;
    replicas.push_back(e.replica);
    e.replica = kUnsent;
    --in_flight_;
    out.push_back(s);
  }
}

}  // namespace brook::detail
