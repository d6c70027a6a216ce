#include "amqp_out_node.hpp"

#include <sys/time.h>

namespace brook::amqp {
namespace {

constexpr std::chrono::milliseconds kOpenTimeout{3000};
constexpr std::chrono::milliseconds kWindowWait{1000};  // for room among unconfirmed publishes
constexpr int kMaxFramesPerWake = 1024;

}  // namespace

AmqpOut::AmqpOut(Node& node)
    : node_(node),
      settings_(read_settings(node.params())),
      backoff_(settings_.reconnect_initial, settings_.reconnect_max),
      published_(node.counter("amqp_published")),
      confirmed_(node.counter("amqp_confirmed")),
      given_back_(node.counter("amqp_given_back")),
      reconnects_(node.counter("amqp_reconnects")) {
  node.on("in", [this](const Message& m) { publish(m); });
  // Connected before the first message can arrive: inputs take messages only once run()
  // started, and a handler that finds no connection declines (its producer re-sends).
  node.on_ready([this] {
    if (!conn_.is_open() && !connecting_) connect();
  });
}

AmqpOut::~AmqpOut() {
  conn_.close();
}

void AmqpOut::connect() {
  connecting_ = false;
  try {
    conn_.open(settings_.url, kOpenTimeout);
    conn_.declare(settings_);
    conn_.confirm_select();
  } catch (const AmqpError& e) {
    fail(std::string("connecting to ") + settings_.url.redacted() + ": " + e.what());
    return;
  }
  BROOK_LOG(kInfo) << "publishing to exchange '" << settings_.exchange << "' at "
                   << settings_.url.redacted() << " with publisher confirms";
  backoff_.reset();
  next_tag_ = 1;
  watch_ = node_.watch(conn_.fd(), kReadable,
                       [this](short) { (void)read(std::chrono::milliseconds(0)); });
}

void AmqpOut::fail(const std::string& what) {
  if (watch_) node_.unwatch(*watch_);
  watch_.reset();
  conn_.close();
  // Unconfirmed: maybe published, maybe not. Back to their producers, which re-send them (a
  // duplicate in the queue rather than a loss).
  given_back_.add(unconfirmed_.size());
  for (auto& [tag, u] : unconfirmed_)
    u.hold.give_back();
  unconfirmed_.clear();
  returned_.clear();
  ++reconnects_;
  const auto delay = backoff_.next();
  BROOK_LOG(kWarn) << what << "; reconnecting in " << delay.count() << " ms";
  connecting_ = true;
  node_.after(delay, [this] { connect(); });
}

void AmqpOut::publish(const Message& m) {
  if (!conn_.is_open()) {
    throw Declined("not connected to " + settings_.url.redacted() + " (reconnecting)");
  }
  if (unconfirmed_.size() >= settings_.prefetch && !read(kWindowWait)) {
    throw Declined("lost the connection to " + settings_.url.redacted());
  }
  if (unconfirmed_.size() >= settings_.prefetch) {
    throw Declined(std::to_string(unconfirmed_.size()) + " publishes to " +
                   settings_.url.redacted() + " still unconfirmed after 1 s");
  }
  const Outgoing o = to_amqp(m.envelope(), settings_);
  const AmqpProperties props(o.props);
  const auto payload = m.payload_bytes();
  const amqp_bytes_t body{payload.size(), const_cast<std::byte*>(payload.data())};
  const int rc = amqp_basic_publish(conn_.state(), kChannel, bytes_of(settings_.exchange),
                                    bytes_of(o.routing_key), 1, 0, props.get(), body);
  if (rc != AMQP_STATUS_OK) {
    fail(std::string("publishing to ") + settings_.url.redacted() + ": " + amqp_error_string2(rc));
    throw Declined("publish failed");
  }
  ++published_;
  unconfirmed_.emplace(next_tag_++, Unconfirmed{node_.hold(), o.props.message_id});
}

bool AmqpOut::read(std::chrono::milliseconds wait) {
  for (int i = 0; i < kMaxFramesPerWake && conn_.is_open(); ++i) {
    amqp_maybe_release_buffers(conn_.state());
    amqp_frame_t f;
    const auto us = i == 0 ? wait.count() * 1000 : 0;
    timeval tv{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
    const int rc = amqp_simple_wait_frame_noblock(conn_.state(), &f, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) return true;
    if (rc != AMQP_STATUS_OK) {
      fail(std::string("reading from ") + settings_.url.redacted() + ": " + amqp_error_string2(rc));
      return false;
    }
    if (!handle(f)) return false;
  }
  if (conn_.is_open()) {
    // More may wait in librabbitmq's buffer, which the fd does not signal.
    node_.post([this] {
      if (conn_.is_open()) (void)read(std::chrono::milliseconds(0));
    });
  }
  return conn_.is_open();
}

bool AmqpOut::handle(const amqp_frame_t& f) {
  if (f.frame_type != AMQP_FRAME_METHOD) return true;
  switch (f.payload.method.id) {
    case AMQP_BASIC_ACK_METHOD: {
      const auto* m = static_cast<const amqp_basic_ack_t*>(f.payload.method.decoded);
      settle(m->delivery_tag, m->multiple != 0, true);
      return true;
    }
    case AMQP_BASIC_NACK_METHOD: {
      const auto* m = static_cast<const amqp_basic_nack_t*>(f.payload.method.decoded);
      settle(m->delivery_tag, m->multiple != 0, false);
      return true;
    }
    case AMQP_BASIC_RETURN_METHOD: {
      // Unroutable (no queue bound for the key): the ack that follows must not count.
      amqp_message_t message;
      const amqp_rpc_reply_t r = amqp_read_message(conn_.state(), kChannel, &message, 0);
      if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        fail("reading a returned message from " + settings_.url.redacted());
        return false;
      }
      const Properties p = properties_of(message.properties);
      returned_.insert(p.message_id);
      amqp_destroy_message(&message);
      std::uint64_t suppressed = 0;
      if (unroutable_log_.allow(suppressed)) {
        BROOK_LOG(kWarn) << "exchange '" << settings_.exchange << "' routed message "
                         << p.message_id
                         << " to no queue: given back to its producer (bind a queue for its "
                            "routing key, or set param routing_key)";
      }
      return true;
    }
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD:
      fail("the broker at " + settings_.url.redacted() + " closed the channel");
      return false;
    default:
      return true;
  }
}

void AmqpOut::settle(std::uint64_t tag, bool multiple, bool ok) {
  auto end = multiple ? unconfirmed_.upper_bound(tag) : unconfirmed_.find(tag);
  auto begin = multiple ? unconfirmed_.begin() : end;
  if (!multiple) {
    if (end == unconfirmed_.end()) return;
    ++end;
  }
  for (auto it = begin; it != end; ++it) {
    Unconfirmed& u = it->second;
    const bool returned = returned_.erase(u.message_id) > 0;
    if (ok && !returned) {
      u.hold.release();
      ++confirmed_;
    } else {
      u.hold.give_back();
      ++given_back_;
    }
  }
  unconfirmed_.erase(begin, end);
}

}  // namespace brook::amqp
