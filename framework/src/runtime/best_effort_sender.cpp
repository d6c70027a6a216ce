#include "runtime/best_effort_sender.hpp"

namespace brook::detail {

BestEffortSender::BestEffortSender(zmq::context_t& context, const ChannelSpec& channel,
                                   std::string node, bool tap, std::chrono::milliseconds linger,
                                   ChannelCounters& counters, const Security& security)
    : GroupSender(context, zmq::socket_type::push, channel, std::move(node), tap, linger, counters,
                  security) {
  // Only completed connections take messages: nothing is parked in the pipe of a replica that
  // never came up (or died), where it would be lost.
  socket_.set(zmq::sockopt::immediate, 1);
  if (tap_) socket_.set(zmq::sockopt::sndhwm, 1000);
}

Offer BestEffortSender::offer(zmq::message_t& msg, std::uint64_t, std::uint64_t, bool force,
                              std::uint64_t) {
  if (pending_.empty()) {
    if (socket_.send(msg, zmq::send_flags::dontwait)) return Offer::kSent;
    full_ = true;
  }
  if (!force && pending_.size() >= max_pending_) return Offer::kFull;
  pending_.push_back(std::move(msg));
  return Offer::kQueued;
}

std::size_t BestEffortSender::flush() {
  if (full_ && ++skipped_while_full_ % kTryWhileFullEvery != 0) return 0;
  full_ = false;
  std::size_t sent = 0;
  while (!pending_.empty()) {
    if (!socket_.send(pending_.front(), zmq::send_flags::dontwait)) {
      full_ = true;
      break;
    }
    pending_.pop_front();
    ++sent;
  }
  return sent;
}

std::size_t BestEffortSender::on_socket_ready(const AckedFn&) {
  full_ = false;
  skipped_while_full_ = 0;
  return flush();
}

}  // namespace brook::detail
