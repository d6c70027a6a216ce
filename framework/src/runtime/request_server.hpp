// The serving side of a request channel: a ROUTER input bound like any input and registered with
// the directory (pattern request). Each request arrives as [caller routing id][envelope]; the
// handler gets it with a ServerReplySlot, which sends the reply — an envelope with the reply's
// type and a `reply-to` header (the request's seq), or a `reply-error` header and no payload —
// back on the same connection, now or later from the loop thread (docs/wire.md).
//
// A reply to a caller that is gone is dropped and counted (`dropped`); a reply after the server
// closed is dropped silently. A malformed request (wrong frame count, not an envelope, over
// max_message_size, another channel's) is counted in `decode_errors` and logged (rate-limited)
// with the caller's address.
#pragma once

#include <brook/counters.hpp>
#include <brook/log.hpp>
#include <brook/node.hpp>
#include <brook/topology.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "directory/directory_protocol.hpp"
#include "runtime/accept_guard.hpp"
#include "runtime/socket_monitor.hpp"
#include "runtime/socket_setup.hpp"
#include "security/security.hpp"

namespace brook::detail {

class RequestServer {
 public:
  // Where a reply goes: the caller's connection and request.
  struct Origin {
    std::string peer;  // routing id of the caller's connection
    std::uint64_t seq = 0;
    TraceId trace{};
  };
  // Called for each well-formed request; may reply through the slot now or later.
  using Handler = std::function<void(const EnvelopeView& request, std::shared_ptr<ReplySlot> slot)>;

  // Binds at once (tcp://<listen.bind>:*); throws ZmqError if it cannot. `producer_id`: the
  // producer of replies. `counters`: the channel's.
  RequestServer(zmq::context_t& context, const PortSpec& port, const ChannelSpec& channel,
                const ListenAddress& listen, std::string producer_id,
                std::chrono::milliseconds linger, ChannelCounters& counters,
                const Security& security);
  ~RequestServer();
  RequestServer(const RequestServer&) = delete;
  RequestServer& operator=(const RequestServer&) = delete;

  const std::string& port() const noexcept { return port_; }
  const ChannelSpec& channel() const noexcept { return *channel_; }
  const std::string& endpoint() const noexcept { return endpoint_; }
  Registration registration() const;
  zmq::socket_t& socket() noexcept { return socket_; }
  Handler& handler() noexcept { return handler_; }
  ChannelCounters& counters() noexcept { return counters_; }

  // Reads the requests that arrived (the socket is readable), calling the handler for each.
  void on_readable();
  // The monitor reporting failed accepts; on_monitor_event() hands them to the accept guard,
  // which stops listening a while when accept() runs out of descriptors.
  void* monitor_socket() noexcept { return monitor_.handle(); }
  void on_monitor_event();
  AcceptGuard& accept_guard() noexcept { return accept_guard_; }

  // Sends a reply (msgpack `payload` of type `type`), or a failure with `error`.
  void reply(const Origin& to, std::string_view type, std::span<const std::byte> payload);
  void fail(const Origin& to, std::string_view error);

 private:
  void handle(zmq::message_t& frame, const std::string& peer);
  void malformed(const zmq::message_t& frame, const std::string& why);
  void send(const Origin& to, std::string_view type, std::span<const std::byte> payload,
            std::string_view error);

  std::string port_;
  const ChannelSpec* channel_;
  std::string producer_id_;
  ChannelCounters& counters_;
  zmq::socket_t socket_;
  std::string endpoint_;
  SocketMonitor monitor_;
  AcceptGuard accept_guard_;
  Limits limits_;
  Handler handler_;
  LogRateLimiter decode_log_;
  EnvelopeEncoder encoder_;
  std::uint64_t next_seq_ = 1;
  std::string peer_;  // of the request being read; reused
  // Slots hold it weakly: a late reply after the server closed is dropped.
  std::shared_ptr<RequestServer*> self_;
};

// One request's way back, given to the handler (a brook::Responder holds it). Loop thread only;
// the first reply or fail() counts, later ones are ignored.
class ServerReplySlot final : public ReplySlot {
 public:
  ServerReplySlot(std::weak_ptr<RequestServer*> server, RequestServer::Origin origin)
      : server_(std::move(server)),
        origin_(std::move(origin)),
        thread_(std::this_thread::get_id()) {}
  void reply(std::string_view type, std::span<const std::byte> payload) override;
  void fail(std::string_view error) override;
  bool replied() const noexcept override { return done_; }
  const RequestServer::Origin& origin() const noexcept { return origin_; }

 private:
  RequestServer* take(const char* what);

  std::weak_ptr<RequestServer*> server_;
  RequestServer::Origin origin_;
  std::thread::id thread_;
  bool done_ = false;
};

}  // namespace brook::detail
