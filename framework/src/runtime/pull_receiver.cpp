#include "runtime/pull_receiver.hpp"

namespace brook::detail {

PullReceiver::PullReceiver(zmq::context_t& context, const PortSpec& port,
                           const ChannelSpec& channel, const ListenAddress& listen, bool tap,
                           std::chrono::milliseconds linger, ChannelCounters& counters,
                           const Security& security)
    : Receiver(context, zmq::socket_type::pull, port, channel, listen, tap, linger, counters,
               security) {
  bind(listen);
}

Receiver::Received PullReceiver::receive(zmq::message_t& body, std::string& peer,
                                         std::string& why) {
  peer.clear();
  if (!socket_.recv(body, zmq::recv_flags::dontwait)) return Received::kNothing;
  if (!body.more()) return refused_tap(body, why) ? Received::kRefused : Received::kMessage;
  why = "expected 1 frame, got " + std::to_string(drain_parts(body, 1));
  return Received::kMalformed;
}

}  // namespace brook::detail
