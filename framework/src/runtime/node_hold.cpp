// Node::hold on a node process: the delivery tracker keeps the held message's acknowledgement
// (delivery_tracker.hpp); here, only where a hold is allowed.
#include "runtime/node_runtime.hpp"

namespace brook {

std::uint64_t NodeRuntime::hold_current() {
  check_loop_thread("hold()");
  if (handling_ == nullptr || handling_->attempt == nullptr) hold_outside_handler();
  // A commit acknowledges what its pass handled; a hold would keep one back from it.
  if (state_) hold_with_state();
  detail::DeliveryTracker::Attempt& a = *handling_->attempt;
  const std::uint64_t token = tracker_.hold(a);
  if (token == 0) hold_unacknowledged(a.in.port(), a.in.channel());
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
