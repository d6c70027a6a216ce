// brook-amqp-in's de-duplication of redeliveries by AMQP message_id (param `dedupe`,
// docs/amqp.md): after a broker crash, RabbitMQ redelivers what it had delivered and whose ack
// it had not yet written to disk, and each redelivery would otherwise become a new brook message
// (a non-idempotent consumer, like the shop's basket, would count it twice). A bounded window
// remembers the last `capacity` ids emitted: oldest forgotten first, O(1) per delivery.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace brook::amqp {

// One AMQP delivery to acknowledge: its tag on the connection `generation` (a tag of a closed
// connection means nothing on the next one).
struct DeliveryTag {
  std::uint64_t generation = 0;
  std::uint64_t tag = 0;
  friend bool operator==(const DeliveryTag&, const DeliveryTag&) = default;
};

class Dedupe {
 public:
  enum class Verdict {
    kEmit,      // new id (or no id, or the window is off): emit it
    kAckNow,    // emitted before and acknowledged downstream: ack this delivery, do not emit
    kAckLater,  // emitted before and still in flight: acknowledged() returns this delivery
  };

  // capacity 0: off, every delivery is emitted.
  explicit Dedupe(std::size_t capacity) : capacity_(capacity) {}

  // A delivery with AMQP message_id `id` (empty: none, never de-duplicated), about to be
  // emitted. kEmit records nothing: the caller calls emitted(id) once the emit succeeded (one
  // that throws, or a delivery dropped with its connection, leaves no trace), then acknowledged(id)
  // from its receipt. kAckLater keeps `tag` for acknowledged(id).
  Verdict check(std::string_view id, DeliveryTag tag);
  // Records `id` as emitted and in flight, forgetting the oldest id if the window is full.
  void emitted(std::string_view id);

  // The emission of `id` was acknowledged downstream: returns the deliveries of the same id
  // that arrived meanwhile (kAckLater), to acknowledge now. An id the window no longer holds
  // returns nothing.
  std::vector<DeliveryTag> acknowledged(std::string_view id);

  // Deliveries that waited on an id forgotten while its emission was still in flight (a window
  // smaller than what is in flight): acknowledge them now, the emission carries the message.
  std::vector<DeliveryTag> take_orphans();

  std::size_t size() const noexcept { return entries_.size(); }
  std::uint64_t duplicates() const noexcept { return duplicates_; }

 private:
  struct Entry {
    bool acknowledged = false;
    std::vector<DeliveryTag> waiting;
  };

  std::size_t capacity_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::string> order_;  // ids in the order first emitted, oldest first
  std::vector<DeliveryTag> orphans_;
  std::uint64_t duplicates_ = 0;
};

}  // namespace brook::amqp
