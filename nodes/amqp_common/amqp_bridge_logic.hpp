// The plain logic of the RabbitMQ bridge nodes (brook-amqp-in, brook-amqp-out), without sockets:
// the amqp:// URL, the reconnect backoff, the params, and the mapping between a brook envelope
// and an AMQP message (ids, type, key, trace context, headers, body). docs/amqp.md.
#pragma once

#include <brook/envelope.hpp>
#include <brook/params.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace brook::amqp {

inline constexpr std::string_view kMsgpack = "application/msgpack";
inline constexpr std::string_view kJson = "application/json";
// AMQP header carrying the brook envelope key (the routing key may be fixed by the topology).
inline constexpr std::string_view kKeyHeader = "brook-key";
inline constexpr std::string_view kTraceparent = "traceparent";
// brook header carrying an AMQP message_id that is not a brook "producer/seq".
inline constexpr std::string_view kMessageIdHeader = "amqp-message-id";
// Envelope type of an AMQP message without a `type` property (amqp-in's `type` param overrides).
inline constexpr std::string_view kDefaultType = "amqp.Message";

// amqp://user:pass@host:port/vhost (RFC-style percent-encoding in user, password and vhost).
struct Url {
  std::string host = "localhost";
  int port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
  // For log lines: the URL with the password replaced by "***".
  std::string redacted() const;
};
// Throws ConfigError naming what is wrong and the expected form.
Url parse_url(std::string_view text);

// Bounded exponential backoff between reconnect attempts: initial, doubled each failure, up to
// max; reset() after a connection that worked.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(initial), max_(max), next_(initial) {}
  std::chrono::milliseconds next();
  void reset() noexcept { next_ = initial_; }

 private:
  std::chrono::milliseconds initial_, max_, next_;
};

// The params both nodes take (docs/amqp.md).
struct Settings {
  Url url;
  std::string exchange;                    // "" is the default exchange
  std::string exchange_type;               // declare the exchange (durable) if set
  std::optional<std::string> routing_key;  // out: fixed key (default: the envelope's key);
                                           // in: the binding key
  std::string queue;                       // in: consumed; out: declared and bound if set
  bool durable = true;                     // queue declared durable
  std::uint16_t prefetch = 256;            // in: basic.qos; out: unconfirmed publishes
  bool persistent = true;                  // out: delivery_mode 2
  std::string content_type{kMsgpack};      // out: content_type property
  std::string type{kDefaultType};          // in: envelope type without an AMQP `type`
  std::size_t dedupe = 65536;              // in: message_ids remembered (amqp_dedupe.hpp); 0 off
  std::chrono::milliseconds reconnect_initial{100};
  std::chrono::milliseconds reconnect_max{5000};
};
// Throws ConfigError (or what Params throws) for a bad value.
Settings read_settings(const Params& params);

struct Properties {
  std::string message_id;
  std::string type;
  std::string content_type;
  bool persistent = false;
  std::vector<std::pair<std::string, std::string>> headers;  // string-valued only
};

// brook -> AMQP: message_id "producer/seq", type, the key as header and (unless fixed) routing
// key, traceparent (kept if the envelope carries one, else made from its trace id), and every
// brook header.
struct Outgoing {
  std::string routing_key;
  Properties props;
};
Outgoing to_amqp(const EnvelopeView& env, const Settings& s);

// AMQP -> brook: type from the `type` property (or the settings'), key from the brook-key header
// (or the delivery's routing key), the AMQP headers and a foreign message_id as brook headers,
// and the body as a msgpack payload (body_to_payload).
struct Incoming {
  std::string type;
  std::optional<std::string> key;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::byte> payload;
};
Incoming from_amqp(const Properties& props, std::string_view routing_key,
                   std::span<const std::byte> body, const Settings& s);

// application/msgpack: the body as is (a single valid msgpack object; else as bin);
// application/json: converted to msgpack (invalid JSON: as bin); anything else: a msgpack bin.
std::vector<std::byte> body_to_payload(std::string_view content_type,
                                       std::span<const std::byte> body);

// W3C trace context "00-<trace id>-<parent id>-01"; the parent id is derived from the message id.
std::string traceparent(const TraceId& trace, std::string_view producer, std::uint64_t seq);

}  // namespace brook::amqp
