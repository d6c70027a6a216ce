#include "amqp_in_node.hpp"

#include <sys/time.h>

namespace brook::amqp {
namespace {

constexpr std::chrono::milliseconds kOpenTimeout{3000};
constexpr int kMaxPerWake = 256;  // deliveries read per wake-up before the loop serves others
constexpr std::chrono::milliseconds kFullRetry{20};

}  // namespace

AmqpIn::AmqpIn(Node& node)
    : node_(node),
      settings_(read_settings(node.params())),
      backoff_(settings_.reconnect_initial, settings_.reconnect_max),
      dedupe_(settings_.dedupe),
      received_(node.counter("amqp_received")),
      acked_(node.counter("amqp_acked")),
      reconnects_(node.counter("amqp_reconnects")),
      backpressure_(node.counter("amqp_backpressure")),
      duplicates_(node.counter("amqp_duplicates")) {
  if (settings_.queue.empty()) {
    throw ConfigError("brook-amqp-in needs param 'queue' (the queue it consumes; " +
                      node.params().origin() + ")");
  }
  (void)node.output<int>("out");  // a topology without "out": exit 2 at start
  node.on_ready([this] { connect(); });
}

AmqpIn::~AmqpIn() {
  conn_.close();
}

void AmqpIn::connect() {
  try {
    conn_.open(settings_.url, kOpenTimeout);
    conn_.declare(settings_);
    conn_.qos(settings_.prefetch);
    conn_.consume(settings_.queue);
  } catch (const AmqpError& e) {
    fail(std::string("connecting to ") + settings_.url.redacted() + ": " + e.what());
    return;
  }
  BROOK_LOG(kInfo) << "consuming queue '" << settings_.queue << "' at " << settings_.url.redacted()
                   << " (prefetch " << settings_.prefetch << ", dedupe " << settings_.dedupe
                   << " message ids)";
  backoff_.reset();
  paused_ = false;
  watch_ = node_.watch(conn_.fd(), kReadable, [this](short) { read(); });
  read();  // librabbitmq may hold frames already read during the set-up
}

void AmqpIn::fail(const std::string& what) {
  drop();
  const auto delay = backoff_.next();
  ++reconnects_;
  BROOK_LOG(kWarn) << what << "; reconnecting in " << delay.count()
                   << " ms (unacknowledged deliveries return to queue '" << settings_.queue << "')";
  node_.after(delay, [this] { connect(); });
}

void AmqpIn::drop() {
  if (watch_) node_.unwatch(*watch_);
  watch_.reset();
  conn_.close();
  ++generation_;
  backlog_.clear();  // the broker redelivers them
}

void AmqpIn::pause() {
  if (paused_) return;
  paused_ = true;
  ++backpressure_;
  if (watch_) node_.unwatch(*watch_);
  watch_.reset();
  const std::uint64_t generation = generation_;
  node_.after(kFullRetry, [this, generation] { resume(generation); });
}

void AmqpIn::resume(std::uint64_t generation) {
  if (generation != generation_) return;  // reconnected meanwhile: nothing to resume
  if (!flush()) {
    node_.after(kFullRetry, [this, generation] { resume(generation); });
    return;
  }
  paused_ = false;
  watch_ = node_.watch(conn_.fd(), kReadable, [this](short) { read(); });
  read();
}

void AmqpIn::ack(DeliveryTag tag) {
  if (tag.generation != generation_ || !conn_.is_open()) return;  // redelivered by the broker
  if (amqp_basic_ack(conn_.state(), kChannel, tag.tag, 0) == AMQP_STATUS_OK) ++acked_;
}

bool AmqpIn::flush() {
  while (!backlog_.empty()) {
    Delivery& d = backlog_.front();
    const DeliveryTag tag{generation_, d.tag};
    const Dedupe::Verdict verdict = dedupe_.check(d.message_id, tag);
    if (verdict != Dedupe::Verdict::kEmit) {
      // A redelivery after a broker crash: its first emission carries the message.
      ++duplicates_;
      if (verdict == Dedupe::Verdict::kAckNow) ack(tag);
      backlog_.pop_front();
      continue;
    }
    std::vector<Header> headers;
    headers.reserve(d.message.headers.size());
    for (const auto& [name, value] : d.message.headers)
      headers.emplace_back(name, value);
    EmitOptions o;
    if (d.message.key) o.key = *d.message.key;
    o.headers = headers;
    o.on_acknowledged = [this, tag, id = d.message_id] {
      ack(tag);
      for (const DeliveryTag& waiting : dedupe_.acknowledged(id))
        ack(waiting);
    };
    try {
      node_.emit_raw("out", d.message.payload, d.message.type, o);
    } catch (const BackpressureError&) {
      return false;
    }
    dedupe_.emitted(d.message_id);
    for (const DeliveryTag& orphan : dedupe_.take_orphans())
      ack(orphan);
    backlog_.pop_front();
  }
  return true;
}

void AmqpIn::read() {
  if (paused_ || !conn_.is_open()) return;
  const std::uint64_t generation = generation_;
  for (int i = 0; i < kMaxPerWake; ++i) {
    amqp_maybe_release_buffers(conn_.state());
    amqp_envelope_t env;
    timeval zero{0, 0};
    const amqp_rpc_reply_t r = amqp_consume_message(conn_.state(), &env, &zero, 0);
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
      return;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
      // Not a delivery: a close from the broker (or something to skip).
      amqp_frame_t f;
      timeval none{0, 0};
      const int rc = amqp_simple_wait_frame_noblock(conn_.state(), &f, &none);
      if (rc == AMQP_STATUS_TIMEOUT) continue;
      if (rc != AMQP_STATUS_OK) {
        fail(std::string("reading from ") + settings_.url.redacted() + ": " +
             amqp_error_string2(rc));
        return;
      }
      if (f.frame_type == AMQP_FRAME_METHOD &&
          (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
           f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
        fail("the broker at " + settings_.url.redacted() + " closed the channel");
        return;
      }
      continue;
    }
    try {
      Connection::check(r, "consuming");
    } catch (const AmqpError& e) {
      fail(std::string("reading from ") + settings_.url.redacted() + ": " + e.what());
      return;
    }
    ++received_;
    const auto* body = static_cast<const std::byte*>(env.message.body.bytes);
    const Properties props = properties_of(env.message.properties);
    backlog_.push_back(
        Delivery{env.delivery_tag, props.message_id,
                 from_amqp(props, string_of(env.routing_key),
                           std::span<const std::byte>(body, env.message.body.len), settings_)});
    amqp_destroy_envelope(&env);
    if (!flush()) {
      pause();
      return;
    }
    if (generation != generation_) return;
  }
  // More may wait in librabbitmq's buffer, which the fd does not signal: come back soon.
  node_.post([this, generation] {
    if (generation == generation_) read();
  });
}

}  // namespace brook::amqp
