#include "runtime/input_port.hpp"

#include <brook/error.hpp>
#include <brook/log.hpp>
#include <msgpack.hpp>

#include "runtime/handling.hpp"
#include "runtime/socket_setup.hpp"
#include "wire/control_frames.hpp"

namespace brook::detail {

namespace {
constexpr std::size_t kMaxAcksPerFrame = 1024;
// Producers remembered for de-duplication; each restart of a producer is a new id.
constexpr std::size_t kMaxProducersRemembered = 4096;
}  // namespace

InputPort::InputPort(zmq::context_t& context, const PortSpec& port, const ChannelSpec& channel,
                     const std::string& advertise, const std::string& own_id, bool tap,
                     std::chrono::milliseconds linger, ChannelCounters& counters,
                     const Security& security)
    : port_(port.port),
      channel_(&channel),
      own_id_(own_id),
      tap_(tap),
      // A tap takes best-effort copies on a PUSH, whatever the channel's delivery.
      reliable_(channel.reliable() && !tap),
      hello_(hello_topic(own_id)),
      socket_(context, channel.pattern == Pattern::kPubsub ? zmq::socket_type::sub
                       : reliable_                         ? zmq::socket_type::router
                                                           : zmq::socket_type::pull),
      counters_(counters) {
  configure_data_socket(socket_, channel, linger);
  security.configure_server(socket_, channel.name);
  if (security.curve()) {
    // Refusals by the ZAP handler (HANDSHAKE_FAILED_AUTH) are counted there, with the address.
    monitor_ = std::make_unique<SocketMonitor>(
        context, socket_,
        ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
  }
  limits_.max_message_size = channel.max_message_size;
  if (channel.pattern == Pattern::kPubsub) {
    socket_.set(zmq::sockopt::subscribe, channel.name);
    socket_.set(zmq::sockopt::subscribe, hello_);
  }
  const std::string bind = "tcp://" + advertise + ":*";
  try {
    socket_.bind(bind);
  } catch (const zmq::error_t& e) {
    throw ZmqError(e.num(), "cannot bind input port '" + port_ + "' to " + bind +
                                " (check --advertise: it must be an address of this host)");
  }
  endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
  // An ack frame must fit the channel's max_message_size, which the producer's socket enforces
  // (a sequence number takes at most 9 bytes; 16 for the array and version).
  max_acks_per_frame_ =
      std::clamp<std::size_t>((channel.max_message_size - 16) / 9, 1, kMaxAcksPerFrame);
}

Registration InputPort::registration() const {
  return Registration{channel_->name, Direction::kIn, channel_->pattern, endpoint_, port_, tap_};
}

std::size_t InputPort::drain_parts(zmq::message_t& body, std::size_t parts) {
  // A malformed multi-part message: read the rest so the next receive starts a new message;
  // `body` ends as the last part (shown in the decode-error log).
  while (body.more()) {
    zmq::message_t extra;
    (void)socket_.recv(extra, zmq::recv_flags::none);
    ++parts;
    body.swap(extra);
  }
  return parts;
}

InputPort::Received InputPort::receive(zmq::message_t& body, std::string& why) {
  if (reliable_) {
    // [producer routing id][envelope]; the id is where the acknowledgement goes.
    if (!socket_.recv(body, zmq::recv_flags::dontwait)) return Received::kNothing;
    peer_.assign(static_cast<const char*>(body.data()), body.size());
    if (!body.more()) {
      why = "expected a routing id and an envelope frame, got 1 frame";
      return Received::kMalformed;
    }
    (void)socket_.recv(body, zmq::recv_flags::none);
    if (!body.more()) return Received::kMessage;
    why = "expected 2 frames (routing id, envelope), got " + std::to_string(drain_parts(body, 2));
    return Received::kMalformed;
  }
  if (channel_->pattern == Pattern::kPipeline) {
    if (!socket_.recv(body, zmq::recv_flags::dontwait)) return Received::kNothing;
    if (!body.more()) return Received::kMessage;
    why = "expected 1 frame, got " + std::to_string(drain_parts(body, 1));
    return Received::kMalformed;
  }

  zmq::message_t topic;
  if (!socket_.recv(topic, zmq::recv_flags::dontwait)) return Received::kNothing;
  if (!topic.more()) {
    why = "expected a topic frame and an envelope frame, got 1 frame";
    body.swap(topic);
    return Received::kMalformed;
  }
  (void)socket_.recv(body, zmq::recv_flags::none);
  if (body.more()) {
    why = "expected 2 frames, got " + std::to_string(drain_parts(body, 2));
    return Received::kMalformed;
  }
  const std::string_view t(static_cast<const char*>(topic.data()), topic.size());
  if (t == channel_->name) return Received::kMessage;
  if (t == hello_) {
    Welcome welcome;
    if (!decode_welcome(std::span(static_cast<const std::byte*>(body.data()), body.size()), welcome,
                        why)) {
      return Received::kMalformed;
    }
    welcomed_[welcome.publisher] = welcome.next_seq;
    BROOK_LOG(kDebug) << "welcomed by " << welcome.publisher << " on " << channel_->name
                      << " from seq " << welcome.next_seq;
    return Received::kWelcome;
  }
  // A topic may be as long as a frame; the log shows its start.
  constexpr std::size_t kShown = 64;
  why = "topic '" + std::string(t.substr(0, kShown)) +
        (t.size() > kShown ? "...' (" + std::to_string(t.size()) + " bytes)" : "'") +
        " is not channel '" + channel_->name + "'";
  return Received::kMalformed;
}

bool InputPort::handled(const MessageId& id) {
  const auto it = seen_.find(id.producer);
  return it != seen_.end() && it->second.handled(id.seq);
}

void InputPort::mark_handled(const MessageId& id) {
  auto it = seen_.find(id.producer);
  if (it == seen_.end()) {
    if (seen_.size() >= kMaxProducersRemembered) seen_.erase(seen_.begin());
    it = seen_.emplace(std::string(id.producer), DedupeWindow(dedupe_window_size(*channel_))).first;
  }
  it->second.mark(id.seq);
}

void InputPort::queue_ack(const std::string& peer, std::uint64_t seq) {
  auto a = acks_.find(peer);
  if (a == acks_.end()) a = acks_.emplace(peer, std::vector<std::uint64_t>()).first;
  a->second.push_back(seq);
  if (++acks_waiting_ >= max_acks_per_frame_) flush_acks();
}

void InputPort::ack(const MessageId& id) {
  mark_handled(id);
  if (!deferred_.empty()) {
    if (auto it = deferred_.find(id.producer); it != deferred_.end()) {
      it->second.erase(id.seq);
      if (it->second.empty()) deferred_.erase(it);
    }
  }
  queue_ack(peer_, id.seq);
}

void InputPort::defer(const MessageId& id) {
  mark_handled(id);
  auto it = deferred_.find(id.producer);
  if (it == deferred_.end())
    it = deferred_.emplace(std::string(id.producer), std::unordered_set<std::uint64_t>()).first;
  it->second.insert(id.seq);
}

bool InputPort::deferred(const MessageId& id) const {
  const auto it = deferred_.find(id.producer);
  return it != deferred_.end() && it->second.count(id.seq) > 0;
}

void InputPort::ack_deferred(const std::string& peer, const std::string& producer,
                             std::uint64_t seq) {
  if (auto it = deferred_.find(producer); it != deferred_.end()) {
    it->second.erase(seq);
    if (it->second.empty()) deferred_.erase(it);
  }
  queue_ack(peer, seq);
}

void InputPort::flush_acks() {
  if (acks_waiting_ == 0) return;
  msgpack::sbuffer buf;
  for (auto& [peer, seqs] : acks_) {
    if (seqs.empty()) continue;
    encode_ack(seqs, buf);
    // A producer that went away cannot take its acks; it re-sends nothing either.
    if (socket_.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      (void)socket_.send(zmq::buffer(buf.data(), buf.size()), zmq::send_flags::dontwait);
    }
    seqs.clear();
  }
  acks_waiting_ = 0;
}

std::uint64_t InputPort::note_published(const MessageId& id) {
  auto it = last_published_.find(id.producer);
  if (it == last_published_.end()) {
    if (last_published_.size() >= kMaxProducersRemembered) {
      last_published_.erase(last_published_.begin());
    }
    // The first message from a publisher: its welcome says where we joined.
    const auto w = welcomed_.find(std::string(id.producer));
    const std::uint64_t expected = w != welcomed_.end() ? w->second : id.seq;
    last_published_.emplace(std::string(id.producer), id.seq);
    return id.seq > expected ? id.seq - expected : 0;
  }
  const std::uint64_t skipped = id.seq > it->second + 1 ? id.seq - it->second - 1 : 0;
  it->second = std::max(it->second, id.seq);
  return skipped;
}

void InputPort::publisher_added(const DirectoryEntry& e) {
  publishers_.insert(e.instance_name() + "@" + e.incarnation);
}

void InputPort::publisher_removed(const DirectoryEntry& e) {
  const std::string id = e.instance_name() + "@" + e.incarnation;
  publishers_.erase(id);
  welcomed_.erase(id);
}

bool InputPort::all_publishers_welcomed() const {
  for (const auto& p : publishers_) {
    if (!welcomed_.count(p)) return false;
  }
  return true;
}

std::string InputPort::waiting_for() const {
  std::string s;
  for (const auto& p : publishers_) {
    if (welcomed_.count(p)) continue;
    if (!s.empty()) s += ", ";
    s += p;
  }
  return s;
}

void InputPort::on_monitor_event() {
  if (!monitor_) return;
  monitor_->drain([&](int event, std::int32_t value, const std::string& endpoint) {
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

}  // namespace brook::detail
