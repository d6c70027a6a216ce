// The messages an at-least-once producer keeps for one consumer group until a replica
// acknowledges them: a ring indexed by sequence number (no allocation per message; the frame is a
// reference-counted copy of what was sent). Each entry is either waiting to be sent or in flight
// to one replica since a time. Plain logic: the socket work is in ReliableSender. The ring starts
// small and doubles up to the capacity as the window fills: a full-size ring is ~1 MiB of pages
// that every producer would otherwise fault in at start (most of a small node's start-up cost).
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>
#include <zmq.hpp>

namespace brook::detail {

class InFlightWindow {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::uint32_t kUnsent = 0;

  struct Entry {
    std::uint64_t seq = 0;  // 0: free
    std::uint32_t replica = kUnsent;
    std::uint64_t key_hash = 0;  // of the ordering key; 0 = none
    std::uint64_t tag = 0;       // the sender's caller's, given back with the ack
    Clock::time_point sent_at{};
    Clock::time_point stored_at{};  // when insert() took it: the lag of the oldest (heartbeats)
    zmq::message_t frame;
  };

  explicit InFlightWindow(std::size_t capacity);

  // Whether `seq` fits: sequence numbers are taken in order and at most `capacity` apart from
  // the oldest one not yet acknowledged.
  bool has_room(std::uint64_t seq) const noexcept;
  // Stores an unsent message; requires has_room(seq).
  Entry& insert(std::uint64_t seq, zmq::message_t frame, std::uint64_t key_hash = 0,
                Clock::time_point now = Clock::now(), std::uint64_t tag = 0);
  // The entry for `seq`, or nullptr if it was acknowledged (or never stored).
  Entry* find(std::uint64_t seq) noexcept;

  void mark_sent(Entry& e, std::uint32_t replica, Clock::time_point now) noexcept;
  // Forgets an acknowledged message and sets `replica` to the one it was in flight to (kUnsent
  // if none), and `*tag` to its tag. False when `seq` is not stored (a late or duplicate ack).
  bool ack(std::uint64_t seq, std::uint32_t& replica, std::uint64_t* tag = nullptr) noexcept;
  // Entries in flight to `replica` go back to unsent; their sequence numbers are appended in
  // order to `out`.
  void release(std::uint32_t replica, std::vector<std::uint64_t>& out) noexcept;
  // Same for every entry in flight since before `cutoff` (no ack in time); `replicas` gets the
  // replica each was in flight to, in the same order.
  void release_sent_before(Clock::time_point cutoff, std::vector<std::uint64_t>& out,
                           std::vector<std::uint32_t>& replicas) noexcept;

  // The oldest stored sequence number, or 0 when nothing is stored.
  std::uint64_t oldest() const noexcept { return stored_ > 0 ? base_ : 0; }
  // When the oldest stored message was stored (time_point::max() when nothing is).
  Clock::time_point oldest_stored_at() const noexcept {
    return stored_ > 0 ? ring_[base_ % ring_.size()].stored_at : Clock::time_point::max();
  }
  std::size_t stored() const noexcept { return stored_; }
  std::size_t in_flight() const noexcept { return in_flight_; }
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  void advance() noexcept;
  void grow(std::size_t needed);

  std::size_t capacity_;
  std::vector<Entry> ring_;  // seq % ring_.size(); at most capacity_ entries
  std::uint64_t base_ = 0;   // oldest sequence number that may still be stored; 0 before the first
  std::uint64_t top_ = 0;    // one past the newest stored
  std::size_t stored_ = 0;
  std::size_t in_flight_ = 0;
};

}  // namespace brook::detail
