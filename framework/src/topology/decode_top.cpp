// The top level, `directory:` and `channels:` sections.
#include <charconv>

#include "topology/decode.hpp"
#include "topology/endpoint.hpp"
#include "topology/values.hpp"

namespace brook::detail {

bool valid_endpoint(std::string_view ep) {
  if (ep.starts_with("ipc://")) return ep.size() > 6;
  if (!ep.starts_with("tcp://")) return false;
  const std::string_view rest = ep.substr(6);
  const std::size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view port = rest.substr(colon + 1);
  if (port.empty() || port.size() > 5) return false;
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return ec == std::errc{} && ptr == port.data() + port.size() && value >= 1 && value <= 65535;
}

std::string_view endpoint_host(std::string_view ep) noexcept {
  if (!ep.starts_with("tcp://")) return {};
  const std::string_view rest = ep.substr(6);
  const std::size_t colon = rest.rfind(':');
  return colon == std::string_view::npos ? rest : rest.substr(0, colon);
}

namespace {

constexpr std::size_t kMinMessageSize = 256;
constexpr std::size_t kMaxMessageSize = 256u * 1024 * 1024;

void decode_endpoints(DiagnosticSink& sink, const Entry& e, std::vector<std::string>& out) {
  std::vector<Entry> items;
  if (e.value.IsScalar()) {
    items.push_back(e);
  } else if (e.value.IsSequence()) {
    for (auto it = e.value.begin(); it != e.value.end(); ++it)
      items.push_back(Entry{*it, *it});
    if (items.empty()) {
      sink.error(where_value(sink, e), "endpoints: expected at least one endpoint",
                 std::string(kEndpointHint));
      return;
    }
  } else {
    sink.error(where_value(sink, e),
               "endpoints: expected an endpoint or a list of endpoints, got " + describe(e.value),
               std::string(kEndpointHint));
    return;
  }
  std::vector<std::string> endpoints;
  for (const auto& item : items) {
    auto s = read_string(sink, item, "endpoints");
    if (!s) continue;
    if (!valid_endpoint(*s)) {
      sink.error(where_value(sink, item), "invalid directory endpoint '" + *s + "'",
                 std::string(kEndpointHint));
      continue;
    }
    endpoints.push_back(*s);
  }
  if (endpoints.size() == items.size()) out = std::move(endpoints);
}

// timeout and idempotent belong to request channels; the pipeline's delivery options do not.
void decode_request_options(DiagnosticSink& sink, const std::string& name, const Fields& f,
                            ChannelSpec& c) {
  const bool request = c.pattern == Pattern::kRequest;
  for (const char* key : {"timeout", "idempotent"}) {
    const Entry* x = f.find(key);
    if (x == nullptr || request) continue;
    sink.error(where_value(sink, *x),
               "channel '" + name + "': " + key + " is for request channels, but this one is " +
                   std::string(to_string(c.pattern)),
               "remove " + std::string(key) + ", or write pattern: request");
  }
  if (request) {
    for (const char* key : {"delivery", "ack_timeout", "window", "retry", "dead_letter"}) {
      const Entry* x = f.find(key);
      if (x == nullptr) continue;
      sink.error(where_value(sink, *x),
                 "channel '" + name + "': " + key + " is not an option of request channels",
                 "a request is answered once or fails back to its caller (timeout, idempotent); "
                 "remove " +
                     std::string(key));
    }
  }
  if (const Entry* x = f.find("timeout"); x != nullptr && request) {
    if (auto v = read_duration(sink, *x, "timeout")) {
      if (v->count() < 1) {
        sink.error(where_value(sink, *x), "timeout must be at least 1ms");
      } else {
        c.timeout = *v;
      }
    }
  }
  if (const Entry* x = f.find("idempotent"); x != nullptr && request) {
    if (auto v = read_bool(sink, *x, "idempotent")) c.idempotent = *v;
  }
}

void decode_channel(DiagnosticSink& sink, const std::string& name, const Entry& e, ChannelSpec& c) {
  c.name = name;
  c.where = sink.where(e.key);
  if (e.value.IsNull()) return;
  if (!e.value.IsMap()) {
    sink.error(where_value(sink, e),
               "channel '" + name + "': expected a map of settings, got " + describe(e.value),
               "write " + name + ": {} for the defaults, or e.g. " + name + ": {pattern: pubsub}");
    return;
  }
  const Fields f = read_fields(sink, e.value,
                               {"pattern", "max_message_size", "hwm", "max_pending", "on_full",
                                "block_timeout", "external", "delivery", "ack_timeout", "window",
                                "retry", "dead_letter", "order_by", "timeout", "idempotent"},
                               "in channel '" + name + "'");
  if (const Entry* x = f.find("pattern")) {
    if (auto v = read_enum<Pattern>(sink, *x, "pattern", parse_pattern,
                                    {"pipeline", "pubsub", "request"})) {
      c.pattern = *v;
    }
  }
  if (const Entry* x = f.find("max_message_size")) {
    if (auto v = read_size(sink, *x, "max_message_size")) {
      if (*v < kMinMessageSize || *v > kMaxMessageSize) {
        sink.error(where_value(sink, *x),
                   "max_message_size must be between " + format_size(kMinMessageSize) + " and " +
                       format_size(kMaxMessageSize) + ", got " + format_size(*v));
      } else {
        c.max_message_size = *v;
      }
    }
  }
  if (const Entry* x = f.find("hwm")) {
    if (auto v = read_int(sink, *x, "hwm", 1)) c.hwm = static_cast<int>(*v);
  }
  if (const Entry* x = f.find("max_pending")) {
    if (auto v = read_int(sink, *x, "max_pending", 1, kIntMax)) {
      c.max_pending = static_cast<std::size_t>(*v);
    }
  }
  if (const Entry* x = f.find("on_full")) {
    if (auto v = read_enum<OnFull>(sink, *x, "on_full", parse_on_full, {"block", "drop", "fail"})) {
      c.on_full = *v;
    }
  }
  if (const Entry* x = f.find("block_timeout")) {
    if (auto v = read_duration(sink, *x, "block_timeout")) c.block_timeout = *v;
  }
  if (const Entry* x = f.find("external")) {
    if (auto v = read_bool(sink, *x, "external")) c.external = *v;
  }
  // Pubsub has one delivery mode; pipeline defaults to at-least-once.
  c.delivery = c.pattern == Pattern::kPipeline ? Delivery::kAtLeastOnce : Delivery::kBestEffort;
  if (const Entry* x = f.find("delivery")) {
    if (auto v = read_enum<Delivery>(sink, *x, "delivery", parse_delivery,
                                     {"at-least-once", "best-effort"})) {
      if (*v == Delivery::kAtLeastOnce && c.pattern == Pattern::kPubsub) {
        sink.error(where_value(sink, *x),
                   "channel '" + name + "': delivery at-least-once is for pipeline channels",
                   "pubsub is best-effort: every subscriber counts the gaps it sees; use a "
                   "pipeline channel per consumer for guaranteed delivery");
      } else {
        c.delivery = *v;
      }
    }
  }
  if (const Entry* x = f.find("ack_timeout")) {
    if (auto v = read_duration(sink, *x, "ack_timeout")) {
      if (v->count() < 10) {
        sink.error(where_value(sink, *x), "ack_timeout must be at least 10ms");
      } else {
        c.ack_timeout = *v;
      }
    }
  }
  if (const Entry* x = f.find("window")) {
    if (auto v = read_int(sink, *x, "window", 1, 1 << 20)) c.window = static_cast<std::size_t>(*v);
  }
  if (const Entry* x = f.find("order_by")) {
    if (!x->value.IsScalar() || x->value.Scalar() != "key") {
      sink.error(where_value(sink, *x), "order_by: the only value is 'key'",
                 "write order_by: key, or remove it");
    } else if (!c.reliable()) {
      sink.error(where_value(sink, *x),
                 "channel '" + name + "': order_by needs an at-least-once pipeline channel",
                 "remove order_by, or use pattern: pipeline with delivery: at-least-once");
    } else {
      c.order_by_key = true;
    }
  }
  if (const Entry* x = f.find("dead_letter")) {
    if (x->value.IsScalar()) {
      c.dead_letter = x->value.Scalar();
    } else {
      sink.error(where_value(sink, *x), "dead_letter must be a channel name");
    }
  }
  decode_request_options(sink, name, f, c);
  if (const Entry* x = f.find("retry"); x != nullptr && expect_map(sink, *x, "retry", false)) {
    const Fields r = read_fields(sink, x->value, {"max_attempts", "initial", "max"},
                                 "in retry of channel '" + name + "'");
    if (const Entry* y = r.find("max_attempts")) {
      if (auto v = read_int(sink, *y, "retry.max_attempts", 1, 100))
        c.retry.max_attempts = static_cast<int>(*v);
    }
    if (const Entry* y = r.find("initial")) {
      if (auto v = read_duration(sink, *y, "retry.initial")) c.retry.initial = *v;
    }
    if (const Entry* y = r.find("max")) {
      if (auto v = read_duration(sink, *y, "retry.max")) c.retry.max = *v;
    }
    if (c.retry.initial > c.retry.max) {
      sink.error(where_value(sink, *x), "retry.initial must not exceed retry.max");
    }
  }
}

void missing_key(DiagnosticSink& sink, const YAML::Node& map, const std::string& key,
                 const std::string& context, std::string hint) {
  sink.error(sink.where(map), "missing required key '" + key + "' " + context, std::move(hint));
}

}  // namespace

void decode_directory(DiagnosticSink& sink, const Entry* entry, DirectorySpec& out) {
  out.endpoints = {"tcp://127.0.0.1:5670"};
  out.where = SourceLocation{sink.file(), 0, 0};
  if (entry == nullptr) return;
  out.where = sink.where(entry->key);
  if (!expect_map(sink, *entry, "directory", true)) return;
  const Fields f = read_fields(
      sink, entry->value, {"endpoints", "ttl", "heartbeat", "external", "http"}, "in directory");
  if (const Entry* x = f.find("endpoints")) decode_endpoints(sink, *x, out.endpoints);
  const Entry* ttl = f.find("ttl");
  const Entry* heartbeat = f.find("heartbeat");
  bool times_ok = true;
  if (ttl) {
    auto v = read_duration(sink, *ttl, "ttl");
    if (v) out.ttl = *v;
    times_ok = v.has_value();
  }
  if (heartbeat) {
    auto v = read_duration(sink, *heartbeat, "heartbeat");
    if (v) out.heartbeat = *v;
    times_ok = times_ok && v.has_value();
  }
  if (times_ok && out.heartbeat >= out.ttl) {
    const Entry* at = heartbeat ? heartbeat : ttl;
    sink.error(at ? where_value(sink, *at) : out.where,
               "heartbeat (" + format_duration(out.heartbeat) + ") must be shorter than ttl (" +
                   format_duration(out.ttl) + ")",
               "a lease expires when no heartbeat arrives within ttl; e.g. ttl: 3s, heartbeat: 1s");
  }
  if (const Entry* x = f.find("external")) {
    if (auto v = read_bool(sink, *x, "external")) out.external = *v;
  }
  if (const Entry* x = f.find("http")) decode_directory_http(sink, *x, out.http);
}

void decode_channels(DiagnosticSink& sink, const Entry& entry, std::vector<ChannelSpec>& out) {
  if (!expect_map(sink, entry, "channels", true)) return;
  const auto named = read_named(sink, entry.value, "channel");
  out.reserve(named.size());
  for (const auto& [name, e] : named) {
    ChannelSpec c;
    decode_channel(sink, name, e, c);
    out.push_back(std::move(c));
  }
}

Decoded decode_topology(const YAML::Node& root, DiagnosticSink& sink) {
  Decoded d;
  if (root.IsNull()) {
    sink.error(sink.where(root), "the file is empty",
               "a topology needs at least topology:, channels: and nodes:");
    return d;
  }
  if (!root.IsMap()) {
    sink.error(sink.where(root), "expected a map at the top level, got " + describe(root),
               "a topology file starts with topology: <name>");
    return d;
  }
  const Fields f = read_fields(sink, root,
                               {"topology", "directory", "state_dir", "security", "log", "tracing",
                                "hosts", "channels", "nodes"},
                               "at the top level");
  const std::string context = "at the top level";
  if (const Entry* x = f.find("topology")) {
    if (auto name = read_string(sink, *x, "topology")) {
      d.topology.name = *name;
      if (!valid_name(*name)) {
        sink.error(where_value(sink, *x), "invalid topology name '" + *name + "'",
                   std::string(kNameRule));
      }
    }
  } else {
    missing_key(sink, root, "topology", context, "name the topology, e.g. topology: shop");
  }
  decode_directory(sink, f.find("directory"), d.topology.directory);
  if (const Entry* x = f.find("state_dir")) {
    if (auto dir = read_string(sink, *x, "state_dir")) {
      if (dir->empty()) {
        sink.error(where_value(sink, *x), "state_dir must not be empty",
                   "name a directory for durable output journals, e.g. state_dir: .brook-state");
      } else {
        d.topology.state_dir = *dir;
      }
    }
  }
  if (const Entry* x = f.find("security")) decode_security(sink, *x, d.topology.security);
  if (const Entry* x = f.find("log")) decode_log(sink, *x, d.topology.log);
  if (const Entry* x = f.find("tracing")) decode_tracing(sink, *x, d.topology.tracing);
  if (const Entry* x = f.find("hosts")) decode_hosts(sink, *x, d.topology.hosts);
  if (const Entry* x = f.find("channels")) {
    decode_channels(sink, *x, d.topology.channels);
  } else {
    missing_key(sink, root, "channels", context, "declare the channels under channels:");
  }
  if (const Entry* x = f.find("nodes")) {
    decode_nodes(sink, *x, d);
  } else {
    missing_key(sink, root, "nodes", context, "declare the nodes under nodes:");
  }
  return d;
}

}  // namespace brook::detail
