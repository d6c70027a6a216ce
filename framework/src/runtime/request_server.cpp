#include "runtime/request_server.hpp"

#include <brook/error.hpp>
#include <brook/ids.hpp>
#include <brook/log.hpp>

#include "runtime/request_wire.hpp"
#include "runtime/socket_setup.hpp"
#include "util/log_context.hpp"

namespace brook::detail {

namespace {
constexpr int kMaxRequestsPerRead = 256;
constexpr std::byte kNil{0xc0};  // msgpack nil: the payload of a failed request's reply
}  // namespace

RequestServer::RequestServer(zmq::context_t& context, const PortSpec& port,
                             const ChannelSpec& channel, const ListenAddress& listen,
                             std::string producer_id, std::chrono::milliseconds linger,
                             ChannelCounters& counters, const Security& security)
    : port_(port.port),
      channel_(&channel),
      producer_id_(std::move(producer_id)),
      counters_(counters),
      socket_(context, zmq::socket_type::router),
      monitor_(context, socket_, ZMQ_EVENT_ACCEPT_FAILED),
      accept_guard_(socket_, "request input '" + port.port + "' (channel '" + channel.name + "')",
                    counters.accept_failed),
      self_(std::make_shared<RequestServer*>(this)) {
  configure_data_socket(socket_, channel, linger);
  socket_.set(zmq::sockopt::maxmsgsize,
              static_cast<std::int64_t>(kInputFrameCeiling * channel.max_message_size));
  // A reply to a caller that disconnected fails at once instead of vanishing: it is counted.
  socket_.set(zmq::sockopt::router_mandatory, 1);
  security.configure_server(socket_, channel.name);
  limits_.max_message_size = channel.max_message_size;
  const BoundEndpoint ep = bind_ephemeral(socket_, listen, "request input '" + port_ + "'");
  endpoint_ = ep.advertised;
  accept_guard_.bound(ep.bound);
}

RequestServer::~RequestServer() = default;

Registration RequestServer::registration() const {
  return Registration{channel_->name, Direction::kIn, Pattern::kRequest, endpoint_, port_, false};
}

void RequestServer::on_readable() {
  zmq::message_t frame;
  for (int i = 0; i < kMaxRequestsPerRead; ++i) {
    if (!socket_.recv(frame, zmq::recv_flags::dontwait)) return;
    peer_.assign(static_cast<const char*>(frame.data()), frame.size());
    if (!frame.more()) {  // a ROUTER always gives the routing id and what follows
      malformed(frame, "no frame after the routing id");
      continue;
    }
    (void)socket_.recv(frame, zmq::recv_flags::none);
    if (frame.more()) {
      std::size_t parts = 1;  // libzmq delivers a message whole: its parts are all here
      for (; frame.more(); ++parts)
        (void)socket_.recv(frame, zmq::recv_flags::none);
      malformed(frame, "expected 1 frame (an envelope), got " + std::to_string(parts));
      continue;
    }
    handle(frame, peer_);
  }
}

void RequestServer::on_monitor_event() {
  const auto now = AcceptGuard::Clock::now();
  monitor_.drain([&](int event, std::int32_t value, const std::string&) {
    if (event == ZMQ_EVENT_ACCEPT_FAILED) accept_guard_.accept_failed(value, now);
  });
}

void RequestServer::handle(zmq::message_t& frame, const std::string& peer) {
  EnvelopeView env;
  const std::span<const std::byte> bytes(static_cast<const std::byte*>(frame.data()), frame.size());
  if (const DecodeStatus st = decode_envelope(bytes, limits_, env); !st) {
    malformed(frame, st.describe());  // no seq to answer: the caller times out
    return;
  }
  Origin origin{peer, env.id.seq, env.trace};
  if (env.channel != channel_->name) {
    malformed(frame, "request names channel '" + std::string(env.channel.substr(0, 64)) + "'");
    fail(origin, "request names channel '" + std::string(env.channel.substr(0, 64)) +
                     "' but arrived on '" + channel_->name + "'");
    return;
  }
  ++counters_.received;
  auto slot = std::make_shared<ServerReplySlot>(self_, std::move(origin));
  if (!handler_) {
    slot->fail("no handler for request input '" + port_ + "'");
    return;
  }
  const detail::LogMessage logged{env.channel, env.id.producer, env.id.seq, &env.trace};
  const detail::LogMessageScope log_scope(logged);
  // The handler's own time (a reply it sends later is not in it), as for pipeline inputs.
  const auto started = std::chrono::steady_clock::now();
  try {
    handler_(env, slot);
    ++counters_.handled;
  } catch (const std::exception& e) {
    ++counters_.handler_errors;
    if (!slot->replied()) slot->fail(e.what());
  }
  counters_.latency.record(std::chrono::steady_clock::now() - started);
}

void RequestServer::malformed(const zmq::message_t& frame, const std::string& why) {
  ++counters_.decode_errors;
  std::uint64_t suppressed = 0;
  if (decode_log_.allow(suppressed)) {
    BROOK_LOG(kWarn) << "dropping malformed request on port '" << port_ << "' (channel '"
                     << channel_->name << "') from " << peer_address(frame) << ": " << why << " ("
                     << counters_.decode_errors << " decode errors on this channel"
                     << (suppressed ? ", " + std::to_string(suppressed) + " not logged" : "")
                     << ")";
  }
}

void RequestServer::reply(const Origin& to, std::string_view type,
                          std::span<const std::byte> payload) {
  send(to, type, payload, {});
}

void RequestServer::fail(const Origin& to, std::string_view error) {
  send(to, "brook.Error", std::span<const std::byte>(&kNil, 1),
       error.empty() ? std::string_view("failed") : error);
}

void RequestServer::send(const Origin& to, std::string_view type,
                         std::span<const std::byte> payload, std::string_view error) {
  const std::string seq = std::to_string(to.seq);
  // An error longer than a header may be is cut (Limits::max_header_value).
  const Header headers[2] = {{kReplyToHeader, seq}, {kReplyErrorHeader, error.substr(0, 4096)}};
  OutgoingEnvelope env;
  env.producer = producer_id_;
  env.seq = next_seq_;
  env.channel = channel_->name;
  env.type = type;
  env.created_ns = wall_clock_ns();
  env.trace = to.trace;
  env.headers = std::span<const Header>(headers, error.empty() ? 1 : 2);
  const std::span<const std::byte> frame = encoder_.encode_raw(env, payload);
  if (frame.size() > channel_->max_message_size) {
    if (!error.empty()) throw MessageTooLarge("reply-error does not fit max_message_size");
    fail(to, "the reply (" + std::to_string(frame.size()) +
                 " bytes) exceeds the channel's max_message_size");
    return;
  }
  try {
    if (!socket_.send(zmq::buffer(to.peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      ++counters_.dropped;  // the caller's pipe is full
      return;
    }
  } catch (const zmq::error_t& e) {
    if (e.num() != EHOSTUNREACH) throw;
    ++counters_.dropped;  // the caller is gone
    return;
  }
  (void)socket_.send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::dontwait);
  ++next_seq_;
  ++counters_.emitted;
  ++counters_.sent;
}

RequestServer* ServerReplySlot::take(const char* what) {
  if (std::this_thread::get_id() != thread_) {
    throw ConfigError(std::string(what) +
                      " called from a thread other than the node's loop thread; hand it to the "
                      "loop with node.post()");
  }
  if (done_) return nullptr;  // a second reply is ignored
  done_ = true;
  const auto server = server_.lock();
  return server ? *server : nullptr;
}

void ServerReplySlot::reply(std::string_view type, std::span<const std::byte> payload) {
  if (RequestServer* s = take("Responder::reply()")) s->reply(origin_, type, payload);
}

void ServerReplySlot::fail(std::string_view error) {
  if (RequestServer* s = take("Responder::fail()")) s->fail(origin_, error);
}

}  // namespace brook::detail
