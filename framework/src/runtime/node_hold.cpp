// Node::hold on a node process: the delivery tracker keeps the held message's acknowledgement
// (delivery_tracker.hpp); here, only where a hold is allowed.
#include "runtime/node_runtime.hpp"

namespace brook {

std::uint64_t NodeRuntime::hold_current() {
  check_loop_thread("hold()");
  if (handling_ == nullptr || handling_->attempt == nullptr) {
    throw Error("node.hold() holds the message being handled: call it inside an input handler");
  }
  detail::DeliveryTracker::Attempt& a = *handling_->attempt;
  if (state_) {
    // A commit acknowledges what its pass handled; a hold would keep one back from it.
    throw Error(
        "node.hold(): this node keeps state (node.state()), whose commits acknowledge "
        "what they handled; keep what must wait in the state instead");
  }
  const std::uint64_t token = tracker_.hold(a);
  if (token == 0) {
    throw Error("node.hold(): port '" + std::string(a.in.port()) + "' (channel '" +
                a.in.channel().name +
                "') does not acknowledge what it receives, so there is nothing to hold back; "
                "hold on at-least-once pipeline inputs");
  }
  return token;
}

void NodeRuntime::release_hold(std::uint64_t token) {
  check_loop_thread("Hold::release()");
  tracker_.release_hold(token, handling_ != nullptr ? handling_->attempt : nullptr);
}

void NodeRuntime::give_back_hold(std::uint64_t token) {
  check_loop_thread("Hold::give_back()");
  tracker_.give_back(token);
}

}  // namespace brook
