// Socket options every data-path socket gets, in one place so producers and consumers agree.
#pragma once

#include <brook/topology.hpp>
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <zmq.hpp>

namespace brook::detail {

// High-water marks from the channel, ZMQ_MAXMSGSIZE from its max_message_size (a peer sending
// more is disconnected by libzmq before anything is allocated), bounded linger, fast reconnect.
void configure_data_socket(zmq::socket_t& s, const ChannelSpec& channel,
                           std::chrono::milliseconds linger);

// ZMQ_MAXMSGSIZE of the sockets that receive from foreign peers (inputs, and both ends of a
// request channel), in channel max_message_size: libzmq drops a larger frame together with its
// connection and reports that no differently from the peer closing (a DISCONNECTED event), so
// these let frames up to this through and reject those over max_message_size themselves, as
// decode errors counted and logged with the peer.
inline constexpr std::size_t kInputFrameCeiling = 2;

// Connections the kernel queues on a listening socket until the process accepts them
// (ZMQ_BACKLOG; the kernel caps it at net.core.somaxconn). At libzmq's default of 100 a burst of
// connections overflows the queue, the kernel drops their SYNs, and each retries only after 1,
// then 3, 7, 15 s: 1,000 nodes started at once on 2 cores waited up to 30 s for their directory
// connection that way.
inline constexpr int kListenBacklog = 4096;

// Where a node's inputs listen: bound at `bind` (an address of this host, an interface, or
// 0.0.0.0) and registered under `advertise`, the address peers connect to (`--bind` and
// `--advertise`, or a topology host's bind and address).
struct ListenAddress {
  std::string bind;
  std::string advertise;
};

// Binds `s` to an ephemeral TCP port at `at.bind`; returns the endpoint it bound
// (tcp://0.0.0.0:41234) and the one to register (tcp://<advertise>:41234). Throws ZmqError
// naming `what` and the fix when it cannot bind.
struct BoundEndpoint {
  std::string bound;
  std::string advertised;
};
BoundEndpoint bind_ephemeral(zmq::socket_t& s, const ListenAddress& at, const std::string& what);

// A frame's bytes, for the decoders and the journal.
inline std::span<const std::byte> bytes_of(const zmq::message_t& m) noexcept {
  return {static_cast<const std::byte*>(m.data()), m.size()};
}

// The address of the peer a received frame came from ("127.0.0.1"), for logs; "unknown peer"
// when libzmq does not say.
std::string peer_address(const zmq::message_t& frame);

// The topic a subscriber instance listens on for its publishers' welcome messages
// (docs/wire.md): "~brook/hello/" + the subscriber's producer id.
std::string hello_topic(std::string_view subscriber_id);
inline constexpr std::string_view kHelloTopicPrefix = "~brook/hello/";

// The subscriber id of a subscription message read from an XPUB ("\x01" + hello topic), or
// nullopt for anything else: an unsubscription, another topic, or an id longer than a producer
// id can be (Limits::max_name), which no subscriber has.
std::optional<std::string_view> hello_subscriber(std::string_view subscription) noexcept;
// The same for an unsubscription ("\x00" + hello topic: the subscriber left or unsubscribed).
std::optional<std::string_view> hello_unsubscriber(std::string_view subscription) noexcept;

}  // namespace brook::detail
