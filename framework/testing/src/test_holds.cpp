// Node::hold on a TestNode, as in a process (runtime/delivery_tracker.hpp): a held delivery is
// handled but not acknowledged, and re-sends of it are duplicates that are not acknowledged
// either; released inside another delivery's handler, it is acknowledged with that one.
#include "test_engine.hpp"

namespace brook::detail {

std::uint64_t TestEngine::hold_current() {
  if (handling_delivery_ == kNone) {
    throw Error("node.hold() holds the message being handled: call it inside an input handler");
  }
  if (state_) {
    throw Error(
        "node.hold(): this node keeps state (node.state()), whose commits acknowledge "
        "what they handled; keep what must wait in the state instead");
  }
  const std::size_t input = input_index(deliveries_[handling_delivery_].port);
  if (!inputs_[input].channel->reliable()) {
    throw Error("node.hold(): port '" + inputs_[input].port + "' (channel '" +
                inputs_[input].channel->name +
                "') does not acknowledge what it receives, so there is nothing to hold back; "
                "hold on at-least-once pipeline inputs");
  }
  Holds& h = holds_[handling_delivery_];
  h.input = input;
  ++h.count;
  return handling_delivery_ + 1;
}

void TestEngine::release_hold(std::uint64_t token) {
  const std::size_t delivery = static_cast<std::size_t>(token - 1);
  if (handling_delivery_ != kNone && handling_delivery_ != delivery) {
    const std::size_t input = input_index(deliveries_[handling_delivery_].port);
    if (inputs_[input].channel->reliable()) {
      Holds& h = holds_[handling_delivery_];
      h.input = input;
      h.riders.push_back(delivery);
      return;
    }
  }
  end_hold(delivery);
}

void TestEngine::give_back_hold(std::uint64_t token) {
  const std::size_t delivery = static_cast<std::size_t>(token - 1);
  const auto it = holds_.find(delivery);
  if (it == holds_.end() || it->second.count == 0) return;
  if (delivery == handling_delivery_) {
    it->second.given_back = true;
    return;
  }
  give_back_delivery(delivery);
}

void TestEngine::end_hold(std::size_t delivery) {
  const auto it = holds_.find(delivery);
  if (it == holds_.end() || it->second.count == 0) return;
  if (--it->second.count > 0 || deliveries_[delivery].outcome != testing::Outcome::kHeld) return;
  testing::Delivery& d = deliveries_[delivery];
  d.outcome = testing::Outcome::kHandled;
  std::vector<std::size_t> riders = std::move(it->second.riders);
  acknowledge(inputs_[it->second.input], MessageId{d.producer, d.seq}, d);
  holds_.erase(it);
  for (const std::size_t r : riders)
    end_hold(r);
}

void TestEngine::give_back_delivery(std::size_t delivery) {
  const auto it = holds_.find(delivery);
  if (it == holds_.end()) return;
  testing::Delivery& d = deliveries_[delivery];
  Input& in = inputs_[it->second.input];
  if (const auto seen = in.seen.find(d.producer); seen != in.seen.end()) {
    seen->second.unmark(d.seq);
  }
  in.retrying.erase({d.producer, d.seq});
  d.outcome = testing::Outcome::kDeclined;
  d.acknowledged = false;
  ++in.counters->declined;
  std::vector<std::size_t> riders = std::move(it->second.riders);
  holds_.erase(it);
  for (const std::size_t r : riders)
    give_back_delivery(r);
}

void TestEngine::settle_holds(std::size_t delivery, bool handled) {
  const auto it = holds_.find(delivery);
  if (it == holds_.end()) return;
  testing::Delivery& d = deliveries_[delivery];
  Input& in = inputs_[it->second.input];
  if (handled && it->second.given_back) {
    give_back_delivery(delivery);  // with what it released
  } else if (handled && it->second.count > 0) {
    d.outcome = testing::Outcome::kHeld;
    in.seen.try_emplace(d.producer, dedupe_window_size(*in.channel)).first->second.mark(d.seq);
    in.retrying.emplace(d.producer, d.seq);  // re-sends: duplicates, not acknowledged
  } else {
    // Acknowledged now, or a failed attempt whose holds end with it: what it released is
    // released too, unless a retry owns the message now (the release was part of the attempt).
    const std::vector<std::size_t> riders = std::move(it->second.riders);
    holds_.erase(it);
    if (handled) acknowledge(in, MessageId{d.producer, d.seq}, d);
    for (const std::size_t r : riders) {
      if (d.outcome == testing::Outcome::kRetrying) {
        give_back_delivery(r);
      } else {
        end_hold(r);
      }
    }
  }
}

}  // namespace brook::detail
