#include "runtime/socket_setup.hpp"

#include <brook/envelope_codec.hpp>
#include <brook/error.hpp>

namespace brook::detail {

void configure_data_socket(zmq::socket_t& s, const ChannelSpec& channel,
                           std::chrono::milliseconds linger) {
  s.set(zmq::sockopt::sndhwm, channel.hwm);
  s.set(zmq::sockopt::rcvhwm, channel.hwm);
  s.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(channel.max_message_size));
  s.set(zmq::sockopt::linger, static_cast<int>(linger.count()));
  s.set(zmq::sockopt::reconnect_ivl, 100);
  s.set(zmq::sockopt::reconnect_ivl_max, 1000);
}

BoundEndpoint bind_ephemeral(zmq::socket_t& s, const ListenAddress& at, const std::string& what) {
  const std::string bind = "tcp://" + at.bind + ":*";
  s.set(zmq::sockopt::backlog, kListenBacklog);
  try {
    s.bind(bind);
  } catch (const zmq::error_t& e) {
    throw ZmqError(e.num(), "cannot bind " + what + " to " + bind +
                                " (check --bind and --advertise, or the topology host's bind and "
                                "address: it must be an address or interface of this host)");
  }
  BoundEndpoint out;
  out.bound = s.get(zmq::sockopt::last_endpoint);
  const auto colon = out.bound.rfind(':');
  out.advertised = "tcp://" + at.advertise + out.bound.substr(colon);
  return out;
}

std::string peer_address(const zmq::message_t& frame) {
  const char* v = zmq_msg_gets(const_cast<zmq_msg_t*>(frame.handle()), "Peer-Address");
  return v != nullptr ? v : "unknown peer";
}

std::string hello_topic(std::string_view subscriber_id) {
  std::string t(kHelloTopicPrefix);
  t.append(subscriber_id);
  return t;
}

namespace {
std::optional<std::string_view> hello_id(std::string_view subscription, char kind) noexcept {
  if (subscription.empty() || subscription[0] != kind) return std::nullopt;
  const std::string_view topic = subscription.substr(1);
  if (!topic.starts_with(kHelloTopicPrefix)) return std::nullopt;
  const std::string_view id = topic.substr(kHelloTopicPrefix.size());
  if (id.empty() || id.size() > Limits{}.max_name) return std::nullopt;
  return id;
}
}  // namespace

std::optional<std::string_view> hello_subscriber(std::string_view subscription) noexcept {
  return hello_id(subscription, 1);
}

std::optional<std::string_view> hello_unsubscriber(std::string_view subscription) noexcept {
  return hello_id(subscription, 0);
}

}  // namespace brook::detail
