#include "runtime/publisher.hpp"

#include <brook/log.hpp>
#include <msgpack.hpp>

#include "runtime/socket_setup.hpp"
#include "wire/control_frames.hpp"

namespace brook::detail {

Publisher::Publisher(zmq::context_t& context, const ChannelSpec& channel, std::string producer_id,
                     std::chrono::milliseconds linger, const Security& security)
    : channel_(channel.name),
      producer_id_(std::move(producer_id)),
      max_pending_(channel.max_pending),
      security_(&security),
      xpub_(context, zmq::socket_type::xpub),
      tap_pub_(context, zmq::socket_type::pub) {
  configure_data_socket(xpub_, channel, linger);
  xpub_.set(zmq::sockopt::xpub_nodrop, 1);
  configure_data_socket(tap_pub_, channel, std::chrono::milliseconds(0));
}

void Publisher::add_subscriber(const DirectoryEntry& e) {
  const auto& ep = e.reg.endpoint;
  const std::string id = e.instance_name() + "@" + e.incarnation;
  zmq::socket_t& s = e.reg.tap ? tap_pub_ : xpub_;
  if (subscribers_.count(ep)) return;
  try {
    security_->configure_client(s, e.node);  // options are taken at connect time
    s.connect(ep);
  } catch (const ConfigError& err) {
    BROOK_LOG(kWarn) << "not connecting to subscriber " << id << " at " << ep << ": " << err.what();
    return;
  } catch (const zmq::error_t& err) {
    BROOK_LOG(kWarn) << "cannot connect to subscriber " << id << " at " << ep << ": " << err.what();
    return;
  }
  subscribers_[ep] = e.reg.tap ? std::string() : id;
  if (e.reg.tap) ++taps_;
}

void Publisher::remove_subscriber(const DirectoryEntry& e) {
  auto it = subscribers_.find(e.reg.endpoint);
  if (it == subscribers_.end()) return;
  const bool tap = it->second.empty();
  welcomed_.erase(it->second);
  subscribers_.erase(it);
  if (tap) --taps_;
  try {
    (tap ? tap_pub_ : xpub_).disconnect(e.reg.endpoint);
  } catch (const zmq::error_t&) {
    // Already disconnected.
  }
}

bool Publisher::send_pair(const std::string& topic, zmq::message_t& body) {
  // With XPUB_NODROP the high-water mark is checked on the first frame only; once it is
  // accepted the rest of the message is too.
  if (!xpub_.send(zmq::buffer(topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
    return false;
  }
  (void)xpub_.send(body, zmq::send_flags::none);
  return true;
}

Offer Publisher::offer(std::uint64_t seq, zmq::message_t& envelope, bool force) {
  if (open_ && pending_.empty() && send_pair(channel_, envelope)) return Offer::kSent;
  if (!force && pending_.size() >= max_pending_) return Offer::kFull;
  pending_.push_back({seq, std::move(envelope)});
  return Offer::kQueued;
}

std::size_t Publisher::flush() {
  send_welcomes();
  if (!open_) return 0;
  std::size_t sent = 0;
  while (!pending_.empty()) {
    if (!send_pair(channel_, pending_.front().second)) break;
    pending_.pop_front();
    ++sent;
  }
  return sent;
}

void Publisher::send_to_taps(const zmq::message_t& envelope) {
  if (taps_ == 0) return;
  zmq::message_t copy;
  copy.copy(const_cast<zmq::message_t&>(envelope));
  // Lossy by design: a PUB drops for a slow tap, and the tap counts the gap from seq numbers.
  if (tap_pub_.send(zmq::buffer(channel_), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
    (void)tap_pub_.send(copy, zmq::send_flags::none);
  }
}

void Publisher::on_readable(std::uint64_t next_seq) {
  for (int i = 0; i < 1000; ++i) {
    zmq::message_t sub;
    if (!xpub_.recv(sub, zmq::recv_flags::dontwait)) break;
    const std::string_view subscription(static_cast<const char*>(sub.data()), sub.size());
    if (const auto gone = hello_unsubscriber(subscription)) {
      // We disconnected from it (it left the directory), or it unsubscribed: a new hello comes
      // if it returns.
      welcomed_.erase(std::string(*gone));
      continue;
    }
    const auto id = hello_subscriber(subscription);
    if (!id) continue;
    const std::string subscriber(*id);
    if (!room_for_welcome(subscriber)) continue;
    welcomed_.insert(subscriber);
    // Everything not yet handed to the socket will reach this subscriber.
    const std::uint64_t from = pending_.empty() ? next_seq : pending_.front().first;
    msgpack::sbuffer b;
    encode_welcome(Welcome{producer_id_, channel_, from}, b);
    welcomes_.emplace_back(hello_topic(subscriber), std::string(b.data(), b.size()));
  }
  send_welcomes();
}

bool Publisher::room_for_welcome(const std::string& subscriber) {
  if (welcomed_.size() < kMaxWelcomed && welcomes_.size() < kMaxWelcomed) return true;
  // Only a subscriber's own hello topics are expected; a flood of others (a hostile or broken
  // subscriber) must not grow the publisher. Listed subscribers are always welcomed.
  for (const auto& [ep, id] : subscribers_) {
    if (id == subscriber) return true;
  }
  std::uint64_t suppressed = 0;
  if (refused_hello_log_.allow(suppressed)) {
    BROOK_LOG(kWarn) << "not welcoming '" << subscriber << "' on channel '" << channel_
                     << "': " << kMaxWelcomed
                     << " hellos are unanswered or from subscribers the directory does not list"
                     << (suppressed ? " (" + std::to_string(suppressed) + " not logged)" : "");
  }
  return false;
}

void Publisher::send_welcomes() {
  while (!welcomes_.empty()) {
    zmq::message_t body(welcomes_.front().second.data(), welcomes_.front().second.size());
    if (!send_pair(welcomes_.front().first, body)) return;
    welcomes_.erase(welcomes_.begin());
  }
}

bool Publisher::node_welcomed(const std::string& node) const {
  const std::string prefix = node + ".";
  for (const auto& id : welcomed_) {
    if (id.compare(0, prefix.size(), prefix) == 0) return true;
  }
  return false;
}

bool Publisher::all_welcomed() const {
  for (const auto& [ep, id] : subscribers_) {
    if (!id.empty() && !welcomed_.count(id)) return false;
  }
  return true;
}

}  // namespace brook::detail
