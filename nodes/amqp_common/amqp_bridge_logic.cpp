#include "amqp_bridge_logic.hpp"

#include <algorithm>
#include <brook/error.hpp>
#include <brook/trace_context.hpp>
#include <charconv>
#include <msgpack.hpp>
#include <nlohmann/json.hpp>

namespace brook::amqp {
namespace {

constexpr std::string_view kScheme = "amqp://";
// Roughly 150 bytes per remembered id: bounds the window to ~2.5 GB.
constexpr std::size_t kMaxDedupe = std::size_t{1} << 24;
constexpr std::string_view kUrlForm = "expected amqp://user:password@host:port/vhost";

[[noreturn]] void bad_url(std::string_view text, const std::string& why) {
  throw ConfigError("param 'url' '" + std::string(text) + "': " + why + " (" +
                    std::string(kUrlForm) + ")");
}

std::string percent_decode(std::string_view text, std::string_view whole) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    unsigned value = 0;
    if (i + 2 >= text.size()) bad_url(whole, "a '%' without two hex digits");
    const auto r = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (r.ec != std::errc() || r.ptr != text.data() + i + 3)
      bad_url(whole, "a '%' without two hex digits");
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

std::vector<std::byte> as_bytes(const char* data, std::size_t size) {
  const auto* p = reinterpret_cast<const std::byte*>(data);
  return {p, p + size};
}

std::vector<std::byte> as_bin(std::span<const std::byte> body) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_bin(static_cast<std::uint32_t>(body.size()));
  pk.pack_bin_body(reinterpret_cast<const char*>(body.data()),
                   static_cast<std::uint32_t>(body.size()));
  return as_bytes(buf.data(), buf.size());
}

bool one_msgpack_object(std::span<const std::byte> body) {
  if (body.empty()) return false;
  try {
    std::size_t offset = 0;
    (void)msgpack::unpack(reinterpret_cast<const char*>(body.data()), body.size(), offset);
    return offset == body.size();
  } catch (const std::exception&) {
    return false;
  }
}

// The media type without parameters ("application/json; charset=utf-8"), lower-cased.
std::string media_type(std::string_view content_type) {
  std::string t(content_type.substr(0, content_type.find(';')));
  while (!t.empty() && t.back() == ' ')
    t.pop_back();
  std::transform(t.begin(), t.end(), t.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return t;
}

}  // namespace

std::string Url::redacted() const {
  return "amqp://" + user + ":***@" + host + ":" + std::to_string(port) +
         (vhost == "/" ? "/" : "/" + vhost);
}

Url parse_url(std::string_view text) {
  if (text.substr(0, kScheme.size()) != kScheme) bad_url(text, "it does not start with amqp://");
  Url url;
  std::string_view rest = text.substr(kScheme.size());
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    const std::string_view path = rest.substr(slash + 1);
    // amqp://host/ and amqp://host both mean the default vhost "/"; "%2f" spells it too.
    if (!path.empty()) url.vhost = percent_decode(path, text);
  }
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    url.user = percent_decode(userinfo.substr(0, colon), text);
    url.password =
        colon == std::string_view::npos ? "" : percent_decode(userinfo.substr(colon + 1), text);
  }
  if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    const std::string_view port = authority.substr(colon + 1);
    int value = 0;
    const auto r = std::from_chars(port.data(), port.data() + port.size(), value);
    if (r.ec != std::errc() || r.ptr != port.data() + port.size() || value < 1 || value > 65535) {
      bad_url(text, "port '" + std::string(port) + "' is not a number from 1 to 65535");
    }
    url.port = value;
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) bad_url(text, "no host");
  url.host = std::string(authority);
  return url;
}

std::chrono::milliseconds Backoff::next() {
  const std::chrono::milliseconds now = next_;
  next_ = std::min(max_, next_ * 2);
  return now;
}

Settings read_settings(const Params& params) {
  Settings s;
  s.url = parse_url(params.get<std::string>("url", "amqp://guest:guest@127.0.0.1:5672/"));
  s.exchange = params.get<std::string>("exchange", "");
  s.exchange_type = params.get<std::string>("exchange_type", "");
  if (params.has("routing_key")) s.routing_key = params.get<std::string>("routing_key");
  s.queue = params.get<std::string>("queue", "");
  s.durable = params.get<bool>("durable", true);
  const auto prefetch = params.get<std::uint64_t>("prefetch", 256);
  if (prefetch < 1 || prefetch > 65535) {
    throw ConfigError("param 'prefetch' " + std::to_string(prefetch) +
                      " is out of range: give 1 to 65535 (" + params.origin() + ")");
  }
  s.prefetch = static_cast<std::uint16_t>(prefetch);
  s.persistent = params.get<bool>("persistent", true);
  s.content_type = params.get<std::string>("content_type", std::string(kMsgpack));
  s.type = params.get<std::string>("type", std::string(kDefaultType));
  s.dedupe = params.get<std::uint64_t>("dedupe", s.dedupe);
  if (s.dedupe > kMaxDedupe) {
    throw ConfigError("param 'dedupe' " + std::to_string(s.dedupe) +
                      " is out of range: give 0 (off) to " + std::to_string(kMaxDedupe) +
                      " message ids (" + params.origin() + ")");
  }
  s.reconnect_initial =
      params.get<std::chrono::milliseconds>("reconnect_initial", s.reconnect_initial);
  s.reconnect_max = params.get<std::chrono::milliseconds>("reconnect_max", s.reconnect_max);
  if (s.reconnect_initial.count() <= 0 || s.reconnect_max < s.reconnect_initial) {
    throw ConfigError("params 'reconnect_initial' and 'reconnect_max': give 0 < initial <= max (" +
                      params.origin() + ")");
  }
  return s;
}

std::string traceparent(const TraceId& trace, std::string_view producer, std::uint64_t seq) {
  // FNV-1a of the message id: a parent span id that is stable across re-sends and never zero.
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ULL;
  };
  for (const char c : producer)
    mix(static_cast<unsigned char>(c));
  for (int i = 0; i < 8; ++i)
    mix(static_cast<unsigned char>(seq >> (8 * i)));
  if (h == 0) h = 1;
  char span[17];
  std::snprintf(span, sizeof span, "%016llx", static_cast<unsigned long long>(h));
  return "00-" + to_hex(trace) + "-" + span + "-01";
}

Outgoing to_amqp(const EnvelopeView& env, const Settings& s) {
  Outgoing o;
  o.routing_key = s.routing_key ? *s.routing_key : (env.has_key ? std::string(env.key) : "");
  o.props.message_id = std::string(env.id.producer) + "/" + std::to_string(env.id.seq);
  o.props.type = std::string(env.type);
  o.props.content_type = s.content_type;
  o.props.persistent = s.persistent;
  bool has_traceparent = false;
  env.for_each_header([&](std::string_view name, std::string_view value) {
    if (name == kTraceparent) has_traceparent = true;
    o.props.headers.emplace_back(name, value);
  });
  if (env.has_key) o.props.headers.emplace_back(kKeyHeader, env.key);
  if (!has_traceparent) {
    // A message with trace context (wire.md) hands its own on: the sampled flag and the span
    // that sent it, so the AMQP side continues the same trace.
    o.props.headers.emplace_back(
        kTraceparent, env.parent_span != SpanId{}
                          ? format_traceparent({env.trace, env.parent_span, env.trace_flags})
                          : traceparent(env.trace, env.id.producer, env.id.seq));
  }
  return o;
}

Incoming from_amqp(const Properties& props, std::string_view routing_key,
                   std::span<const std::byte> body, const Settings& s) {
  Incoming in;
  in.type = props.type.empty() ? s.type : props.type;
  for (const auto& [name, value] : props.headers) {
    if (name == kKeyHeader) {
      in.key = value;
      continue;
    }
    in.headers.emplace_back(name, value);
  }
  if (!in.key && !routing_key.empty()) in.key = std::string(routing_key);
  if (!props.message_id.empty()) in.headers.emplace_back(kMessageIdHeader, props.message_id);
  in.payload = body_to_payload(props.content_type, body);
  return in;
}

std::vector<std::byte> body_to_payload(std::string_view content_type,
                                       std::span<const std::byte> body) {
  const std::string type = media_type(content_type);
  if (type == kMsgpack && one_msgpack_object(body)) return {body.begin(), body.end()};
  if (type == kJson) {
    const auto* p = reinterpret_cast<const char*>(body.data());
    const nlohmann::json j = nlohmann::json::parse(p, p + body.size(), nullptr, false);
    if (!j.is_discarded()) {
      const std::vector<std::uint8_t> packed = nlohmann::json::to_msgpack(j);
      return as_bytes(reinterpret_cast<const char*>(packed.data()), packed.size());
    }
  }
  return as_bin(body);
}

}  // namespace brook::amqp
