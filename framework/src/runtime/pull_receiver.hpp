// A best-effort pipeline input (and a tap of any pipeline): a PULL socket, one frame per message,
// nothing sent back.
#pragma once

#include "runtime/receiver.hpp"

namespace brook::detail {

class PullReceiver final : public Receiver {
 public:
  PullReceiver(zmq::context_t& context, const PortSpec& port, const ChannelSpec& channel,
               const ListenAddress& listen, bool tap, std::chrono::milliseconds linger,
               ChannelCounters& counters, const Security& security);

  Received receive(zmq::message_t& body, std::string& peer, std::string& why) override;
};

}  // namespace brook::detail
