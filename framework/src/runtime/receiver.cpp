#include "runtime/receiver.hpp"

#include <brook/error.hpp>

#include "runtime/pull_receiver.hpp"
#include "runtime/reliable_receiver.hpp"
#include "runtime/socket_setup.hpp"
#include "runtime/sub_receiver.hpp"
#include "wire/control_frames.hpp"

namespace brook::detail {

Receiver::Receiver(zmq::context_t& context, zmq::socket_type type, const PortSpec& port,
                   const ChannelSpec& channel, const ListenAddress& listen, bool tap,
                   std::chrono::milliseconds linger, ChannelCounters& counters,
                   const Security& security)
    : port_(port.port),
      channel_(&channel),
      tap_(tap),
      socket_(context, type),
      counters_(counters),
      accept_guard_(socket_, "input '" + port.port + "' (channel '" + channel.name + "')",
                    counters.accept_failed) {
  configure_data_socket(socket_, channel, linger);
  socket_.set(zmq::sockopt::maxmsgsize,
              static_cast<std::int64_t>(kInputFrameCeiling * channel.max_message_size));
  security.configure_server(socket_, channel.name);
  // Refusals by the ZAP handler (HANDSHAKE_FAILED_AUTH) are counted there, with the address.
  monitor_ = std::make_unique<SocketMonitor>(
      context, socket_,
      ZMQ_EVENT_ACCEPT_FAILED | (security.curve() ? ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                                        ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                                                  : 0));
  limits_.max_message_size = channel.max_message_size;
  (void)listen;  // bound by the derived class once its socket options are set (bind())
}

void Receiver::bind(const ListenAddress& at) {
  const BoundEndpoint ep = bind_ephemeral(socket_, at, "input port '" + port_ + "'");
  endpoint_ = ep.advertised;
  accept_guard_.bound(ep.bound);
}

Registration Receiver::registration() const {
  return Registration{channel_->name, Direction::kIn, channel_->pattern, endpoint_, port_, tap_};
}

std::size_t Receiver::drain_parts(zmq::message_t& body, std::size_t parts) {
  while (body.more()) {
    zmq::message_t extra;
    (void)socket_.recv(extra, zmq::recv_flags::none);
    ++parts;
    body.swap(extra);
  }
  return parts;
}

bool Receiver::tap_refusal(const zmq::message_t& frame, std::string& why) const {
  const std::span<const std::byte> bytes(static_cast<const std::byte*>(frame.data()), frame.size());
  if (!as_string_view(bytes).starts_with(tap_refusal_prefix())) return false;
  TapRefusal r;
  std::string bad;
  if (!decode_tap_refusal(bytes, r, bad)) return false;  // then a malformed message like any
  why = "producer " + r.producer + " refused this tap of channel '" + channel_->name +
        "': it already serves " + std::to_string(r.limit) +
        " taps, the most one producer serves per channel (kMaxTapsPerChannel); stop another "
        "brook tap of '" +
        channel_->name + "' or try again once one has ended";
  return true;
}

void Receiver::on_monitor_event() {
  const auto now = AcceptGuard::Clock::now();
  monitor_->drain([&](int event, std::int32_t value, const std::string& endpoint) {
    if (event == ZMQ_EVENT_ACCEPT_FAILED) {
      accept_guard_.accept_failed(value, now);
      return;
    }
    ++counters_.refused;
    std::string why = "handshake failed";
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
      why = "no handshake within the handshake interval, or the peer left";
    } else if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
      why = "the peer does not speak CURVE";
    } else if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC) {
      why = "the peer's CURVE handshake does not decrypt (it expects another server key)";
    } else {
      why = "protocol error " + std::to_string(value) + " during the handshake";
    }
    std::uint64_t suppressed = 0;
    if (refused_log_.allow(suppressed)) {
      // libzmq reports our end of a failed handshake only; the ZAP handler logs peers it refuses.
      BROOK_LOG(kWarn) << "refused a connection to input '" << port_ << "' at " << endpoint << ": "
                       << why << " (" << counters_.refused << " refused so far"
                       << (suppressed > 0 ? ", " + std::to_string(suppressed) + " not logged" : "")
                       << ")";
    }
  });
}

std::unique_ptr<Receiver> make_receiver(zmq::context_t& context, const PortSpec& port,
                                        const ChannelSpec& channel, const ListenAddress& listen,
                                        const std::string& own_id, bool tap,
                                        std::chrono::milliseconds linger, ChannelCounters& counters,
                                        const Security& security) {
  if (channel.pattern == Pattern::kPubsub) {
    return std::make_unique<SubReceiver>(context, port, channel, listen, own_id, tap, linger,
                                         counters, security);
  }
  if (channel.reliable() && !tap) {
    return std::make_unique<ReliableReceiver>(context, port, channel, listen, linger, counters,
                                              security);
  }
  return std::make_unique<PullReceiver>(context, port, channel, listen, tap, linger, counters,
                                        security);
}

}  // namespace brook::detail
