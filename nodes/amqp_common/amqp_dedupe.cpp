#include "amqp_dedupe.hpp"

#include <utility>

namespace brook::amqp {

Dedupe::Verdict Dedupe::check(std::string_view id, DeliveryTag tag) {
  if (capacity_ == 0 || id.empty()) return Verdict::kEmit;
  const auto it = entries_.find(std::string(id));
  if (it == entries_.end()) return Verdict::kEmit;
  ++duplicates_;
  if (it->second.acknowledged) return Verdict::kAckNow;
  it->second.waiting.push_back(tag);
  return Verdict::kAckLater;
}

void Dedupe::emitted(std::string_view id) {
  if (capacity_ == 0 || id.empty()) return;
  std::string key(id);
  if (entries_.count(key) != 0) return;
  if (entries_.size() == capacity_) {
    const auto oldest = entries_.find(order_.front());
    for (const DeliveryTag& t : oldest->second.waiting)
      orphans_.push_back(t);
    entries_.erase(oldest);
    order_.pop_front();
  }
  order_.push_back(key);
  entries_.emplace(std::move(key), Entry{});
}

std::vector<DeliveryTag> Dedupe::acknowledged(std::string_view id) {
  const auto it = entries_.find(std::string(id));
  if (it == entries_.end()) return {};
  it->second.acknowledged = true;
  return std::exchange(it->second.waiting, {});
}

std::vector<DeliveryTag> Dedupe::take_orphans() {
  return std::exchange(orphans_, {});
}

}  // namespace brook::amqp
