#include "runtime/socket_setup.hpp"

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

std::string hello_topic(std::string_view subscriber_id) {
  std::string t(kHelloTopicPrefix);
  t.append(subscriber_id);
  return t;
}

}  // namespace brook::detail
