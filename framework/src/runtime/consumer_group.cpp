#include "runtime/consumer_group.hpp"

#include <brook/log.hpp>

#include "runtime/socket_setup.hpp"

namespace brook::detail {

ConsumerGroup::ConsumerGroup(zmq::context_t& context, const ChannelSpec& channel, std::string node,
                             bool tap, std::chrono::milliseconds linger)
    : node_(std::move(node)),
      tap_(tap),
      max_pending_(tap ? 0 : channel.max_pending),
      push_(context, zmq::socket_type::push) {
  configure_data_socket(push_, channel, linger);
  // Only completed connections take messages: nothing is parked in the pipe of a replica that
  // never came up (or died), where it would be lost.
  push_.set(zmq::sockopt::immediate, 1);
  if (tap_) push_.set(zmq::sockopt::sndhwm, 1000);
  monitor_ = std::make_unique<SocketMonitor>(
      context, push_, ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED);
}

void ConsumerGroup::add_replica(const DirectoryEntry& e) {
  const auto& ep = e.reg.endpoint;
  if (replicas_.count(ep)) return;
  replicas_[ep] = e.instance_name() + "@" + e.incarnation;
  try {
    push_.connect(ep);
  } catch (const zmq::error_t& err) {
    BROOK_LOG(kWarn) << "cannot connect to " << e.instance_name() << " at " << ep << ": "
                     << err.what();
    replicas_.erase(ep);
  }
}

void ConsumerGroup::remove_replica(const DirectoryEntry& e) {
  const auto& ep = e.reg.endpoint;
  if (!replicas_.erase(ep)) return;
  connected_.erase(ep);
  try {
    push_.disconnect(ep);
  } catch (const zmq::error_t&) {
    // The connection may already be gone; nothing else to undo.
  }
}

Offer ConsumerGroup::offer(zmq::message_t& msg) {
  if (pending_.empty()) {
    if (push_.send(msg, zmq::send_flags::dontwait)) return Offer::kSent;
  }
  if (pending_.size() >= max_pending_) return Offer::kFull;
  pending_.emplace_back(std::move(msg));
  return Offer::kQueued;
}

std::size_t ConsumerGroup::flush() {
  std::size_t sent = 0;
  while (!pending_.empty()) {
    if (!push_.send(pending_.front(), zmq::send_flags::dontwait)) break;
    pending_.pop_front();
    ++sent;
  }
  return sent;
}

void ConsumerGroup::on_monitor_event() {
  monitor_->drain([&](int event, std::int32_t, const std::string& endpoint) {
    if (!replicas_.count(endpoint)) return;  // a replica we already disconnected
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      connected_.insert(endpoint);
    } else if (event == ZMQ_EVENT_DISCONNECTED) {
      connected_.erase(endpoint);
    }
  });
}

bool ConsumerGroup::all_connected() const noexcept {
  return !replicas_.empty() && connected_.size() == replicas_.size();
}

}  // namespace brook::detail
