// Encoding and decoding of directory protocol messages; field names are the wire names of
// docs/directory.md.
#include <algorithm>
#include <brook/envelope_codec.hpp>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "directory/directory_protocol.hpp"
#include "wire/object_reader.hpp"

namespace brook {

namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;
using detail::ObjectReader;

constexpr std::size_t kMaxName = 255;
constexpr std::size_t kMaxEndpoint = 1024;
constexpr std::size_t kMaxRegistrations = 1024;
constexpr std::size_t kMaxEntries = 1u << 20;
constexpr std::size_t kMaxDetail = 4096;

template <class... Ops>
struct Overloaded : Ops... {
  using Ops::operator()...;
};
// C++20 deduces this for aggregates, but clang before 17 does not (the fuzz build uses clang).
template <class... Ops>
Overloaded(Ops...) -> Overloaded<Ops...>;

void pack_kv(Packer& p, std::string_view k, std::string_view v) {
  p.pack(k);
  p.pack(v);
}
void pack_kv(Packer& p, std::string_view k, std::uint64_t v) {
  p.pack(k);
  p.pack_uint64(v);
}
void pack_kb(Packer& p, std::string_view k, bool v) {
  p.pack(k);
  if (v)
    p.pack_true();
  else
    p.pack_false();
}

void pack_registration(Packer& p, const Registration& r) {
  p.pack_map(6);
  pack_kv(p, "channel", r.channel);
  pack_kv(p, "dir", to_string(r.direction));
  pack_kv(p, "pattern", to_string(r.pattern));
  pack_kv(p, "endpoint", r.endpoint);
  pack_kv(p, "port", r.port);
  pack_kb(p, "tap", r.tap);
}

// The scope field of a message: absent for the unnamed scope, so such messages stay as they were.
std::uint32_t scope_fields(const std::string& topology) {
  return topology.empty() ? 0 : 1;
}
void pack_scope(Packer& p, const std::string& topology) {
  if (!topology.empty()) pack_kv(p, "topology", topology);
}
// The same for a request's token: absent when the client has none.
std::uint32_t token_fields(const std::string& token) {
  return token.empty() ? 0 : 1;
}
void pack_token(Packer& p, const std::string& token) {
  if (!token.empty()) pack_kv(p, "token", token);
}

void pack_entry(Packer& p, const DirectoryEntry& e) {
  p.pack_map(4 + scope_fields(e.topology));
  pack_scope(p, e.topology);
  pack_kv(p, "node", e.node);
  pack_kv(p, "instance", e.instance);
  pack_kv(p, "incarnation", e.incarnation);
  p.pack(std::string_view("reg"));
  pack_registration(p, e.reg);
}

// The channels whose handlers ran: the others send no `latency` entry.
std::uint32_t timed_channels(const NodeCounters& c) {
  std::uint32_t n = 0;
  for (const auto& [name, ch] : c.channels)
    n += ch.latency.count() > 0 ? 1 : 0;
  return n;
}

void pack_latency(Packer& p, const NodeCounters& c, std::uint32_t timed) {
  p.pack(std::string_view("latency"));
  p.pack_map(timed);
  for (const auto& [name, ch] : c.channels) {
    const auto& h = ch.latency;
    if (h.count() == 0) continue;
    std::size_t used = h.counts.size();
    while (used > 0 && h.counts[used - 1] == 0)
      --used;  // trailing empty buckets are left out
    p.pack(std::string_view(name));
    p.pack_map(2);
    pack_kv(p, "sum_ns", h.sum_ns);
    p.pack(std::string_view("buckets"));
    p.pack_array(static_cast<std::uint32_t>(used));
    for (std::size_t i = 0; i < used; ++i)
      p.pack(h.counts[i]);
  }
}

void pack_counters(Packer& p, const NodeCounters& c) {
  // The user maps only when the node declared some, the latencies only when a handler ran, so
  // other nodes' heartbeats stay as they were.
  const std::uint32_t timed = timed_channels(c);
  p.pack_map(3 + (c.user_counters.empty() ? 0 : 1) + (c.user_gauges.empty() ? 0 : 1) +
             (timed > 0 ? 1 : 0));
  pack_kv(p, "uptime_ms", c.uptime_ms);
  pack_kv(p, "loop_iterations", c.loop_iterations);
  p.pack(std::string_view("channels"));
  p.pack_map(static_cast<std::uint32_t>(c.channels.size()));
  for (const auto& [name, ch] : c.channels) {
    p.pack(std::string_view(name));
    std::uint32_t n = 0;
    ch.for_each([&](std::string_view, std::uint64_t) { ++n; });
    p.pack_map(n);
    ch.for_each([&](std::string_view k, std::uint64_t v) { pack_kv(p, k, v); });
  }
  if (!c.user_counters.empty()) {
    p.pack(std::string_view("user_counters"));
    p.pack_map(static_cast<std::uint32_t>(c.user_counters.size()));
    for (const auto& [name, v] : c.user_counters)
      pack_kv(p, name, v);
  }
  if (!c.user_gauges.empty()) {
    p.pack(std::string_view("user_gauges"));
    p.pack_map(static_cast<std::uint32_t>(c.user_gauges.size()));
    for (const auto& [name, v] : c.user_gauges) {
      p.pack(std::string_view(name));
      p.pack_int64(v);
    }
  }
  if (timed > 0) pack_latency(p, c, timed);
}

// Fields every reply with a DirectoryState carries.
constexpr std::uint32_t kStateFields = 4;
void pack_state(Packer& p, const DirectoryState& s) {
  pack_kv(p, "epoch", s.epoch);
  pack_kv(p, "seq", s.seq);
  pack_kv(p, "uptime_ms", s.uptime_ms);
  pack_kb(p, "settled", s.settled);
}

bool read_registration(const msgpack::object& o, const std::string& path, Registration& r,
                       std::string& error) {
  ObjectReader f(o, path);
  std::string dir, pattern;
  f.str("channel", r.channel, kMaxName);
  f.str("dir", dir, 8);
  f.str("pattern", pattern, 16);
  f.str("endpoint", r.endpoint, kMaxEndpoint);
  f.str("port", r.port, kMaxName, false);
  f.boolean("tap", r.tap, false);
  if (f.ok()) {
    if (dir == "in") {
      r.direction = Direction::kIn;
    } else if (dir == "out") {
      r.direction = Direction::kOut;
    } else {
      f.fail("dir", "expected 'in' or 'out', got '" + dir + "'");
    }
    if (auto pat = parse_pattern(pattern)) {
      r.pattern = *pat;
    } else {
      f.fail("pattern", "expected 'pipeline' or 'pubsub', got '" + pattern + "'");
    }
    if (r.channel.empty()) f.fail("channel", "empty");
  }
  if (!f.ok()) error = f.error();
  return f.ok();
}

bool read_registrations(ObjectReader& f, std::string_view key, std::vector<Registration>& out) {
  const auto* arr = f.array(key, kMaxRegistrations);
  if (arr == nullptr) return false;
  out.resize(arr->size);
  for (std::uint32_t i = 0; i < arr->size; ++i) {
    std::string err;
    if (!read_registration(arr->ptr[i], f.child(key, i), out[i], err)) {
      f.fail_nested(err);
      return false;
    }
  }
  return true;
}

// The optional scope field; a name as the directory accepts them ([A-Za-z0-9_-]) or absent.
bool read_scope(ObjectReader& f, std::string& topology) {
  f.str("topology", topology, kMaxName, false);
  if (f.ok() && !topology.empty() && !valid_directory_name(topology)) {
    f.fail("topology", "expected a topology name of [A-Za-z0-9_-]{1,64}");
  }
  return f.ok();
}

bool read_instance_id(ObjectReader& f, std::string& node, std::uint32_t& instance,
                      std::string& incarnation) {
  f.str("node", node, kMaxName);
  f.uint32("instance", instance);
  f.str("incarnation", incarnation, kMaxName);
  if (f.ok() && node.empty()) f.fail("node", "empty");
  return f.ok();
}

bool read_entry(const msgpack::object& o, const std::string& path, DirectoryEntry& e,
                std::string& error) {
  ObjectReader f(o, path);
  read_instance_id(f, e.node, e.instance, e.incarnation);
  read_scope(f, e.topology);
  if (f.ok()) {
    const auto* reg = f.find("reg");
    std::string err;
    if (reg == nullptr) {
      f.fail("reg", "missing");
    } else if (!read_registration(*reg, f.child("reg"), e.reg, err)) {
      error = err;
      return false;
    }
  }
  if (!f.ok()) error = f.error();
  return f.ok();
}

// A name from the wire, fit for an error message: at most its first 64 bytes, non-printable
// bytes as '?'.
std::string shown(std::string_view name) {
  std::string s(name.substr(0, kMaxUserMetricName));
  for (char& ch : s)
    if (ch < 0x20 || ch > 0x7e) ch = '?';
  if (name.size() > s.size()) s += "... (" + std::to_string(name.size()) + " bytes)";
  return s;
}

// The user counters or gauges map `key` into `out`. What a peer can make the directory store is
// bounded here: kMaxUserMetrics names of kMaxUserMetricName characters.
template <class Value>
void read_user_metrics(ObjectReader& f, std::string_view key,
                       std::map<std::string, Value, std::less<>>& out) {
  const auto* m = f.map(key, kMaxUserMetrics, false);
  if (m == nullptr) return;
  for (std::uint32_t i = 0; i < m->size; ++i) {
    const auto& kv = m->ptr[i];
    if (kv.key.type != msgpack::type::STR) {
      f.fail(key, "expected names (strings) as keys");
      return;
    }
    const std::string_view name(kv.key.via.str.ptr, kv.key.via.str.size);
    if (!valid_user_metric_name(name)) {
      f.fail(key, "name '" + shown(name) + "' is not 1 to " + std::to_string(kMaxUserMetricName) +
                      " characters of a-z, 0-9, '_', '.', '-'");
      return;
    }
    Value v{};
    if constexpr (std::is_signed_v<Value>) {
      if (kv.val.type == msgpack::type::NEGATIVE_INTEGER) {
        v = kv.val.via.i64;
      } else if (kv.val.type == msgpack::type::POSITIVE_INTEGER &&
                 kv.val.via.u64 <=
                     static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        v = static_cast<Value>(kv.val.via.u64);
      } else {
        f.fail(key, "'" + std::string(name) + "': expected a 64-bit signed integer");
        return;
      }
    } else {
      if (kv.val.type != msgpack::type::POSITIVE_INTEGER) {
        f.fail(key, "'" + std::string(name) + "': expected an unsigned integer");
        return;
      }
      v = kv.val.via.u64;
    }
    out.insert_or_assign(std::string(name), v);
  }
}

// `latency`: per channel, the handler durations' histogram. Bounded like the channels map; a
// histogram that does not fit brook's buckets is refused rather than shown wrong.
void read_latency(ObjectReader& f, NodeCounters& c) {
  const auto* m = f.map("latency", 4096, false);
  if (m == nullptr) return;
  for (std::uint32_t i = 0; i < m->size; ++i) {
    const auto& kv = m->ptr[i];
    if (kv.key.type != msgpack::type::STR || kv.key.via.str.size > kMaxName ||
        kv.val.type != msgpack::type::MAP) {
      f.fail("latency", "expected a map of channel name to {sum_ns, buckets}");
      return;
    }
    const std::string channel(kv.key.via.str.ptr, kv.key.via.str.size);
    ObjectReader h(kv.val, f.child("latency") + "." + shown(channel));
    LatencyHistogram hist;
    h.uint("sum_ns", hist.sum_ns);
    const auto* buckets = h.array("buckets", LatencyHistogram::kBuckets);
    if (h.ok() && buckets != nullptr) {
      for (std::uint32_t b = 0; b < buckets->size; ++b) {
        if (buckets->ptr[b].type != msgpack::type::POSITIVE_INTEGER) {
          h.fail("buckets", "expected unsigned counts");
          break;
        }
        hist.counts[b] = buckets->ptr[b].via.u64;
      }
    }
    if (!h.ok()) {
      f.fail_nested(h.error());
      return;
    }
    c.channels[channel].latency = hist;
  }
}

bool read_counters(const msgpack::object& o, const std::string& path, NodeCounters& c,
                   std::string& error) {
  ObjectReader f(o, path);
  f.uint("uptime_ms", c.uptime_ms, false);
  f.uint("loop_iterations", c.loop_iterations, false);
  if (const auto* chans = f.map("channels", 4096, false)) {
    for (std::uint32_t i = 0; i < chans->size && f.ok(); ++i) {
      const auto& kv = chans->ptr[i];
      if (kv.key.type != msgpack::type::STR || kv.key.via.str.size > kMaxName ||
          kv.val.type != msgpack::type::MAP) {
        f.fail("channels", "expected a map of channel name to counter map");
        break;
      }
      auto& ch = c.channels[std::string(kv.key.via.str.ptr, kv.key.via.str.size)];
      for (std::uint32_t j = 0; j < kv.val.via.map.size; ++j) {
        const auto& cv = kv.val.via.map.ptr[j];
        if (cv.key.type != msgpack::type::STR || cv.val.type != msgpack::type::POSITIVE_INTEGER) {
          f.fail("channels", "counter values must be unsigned integers keyed by name");
          break;
        }
        // Unknown counter names come from newer peers; ignoring them keeps old tools working.
        (void)ch.set(std::string_view(cv.key.via.str.ptr, cv.key.via.str.size), cv.val.via.u64);
      }
    }
  }
  read_latency(f, c);
  read_user_metrics(f, "user_counters", c.user_counters);
  read_user_metrics(f, "user_gauges", c.user_gauges);
  if (f.ok() && c.user_counters.size() + c.user_gauges.size() > kMaxUserMetrics) {
    f.fail("user_gauges", std::to_string(c.user_counters.size()) + " counters and " +
                              std::to_string(c.user_gauges.size()) + " gauges: more than " +
                              std::to_string(kMaxUserMetrics) + " in all");
  }
  for (const auto& [name, v] : c.user_gauges) {
    if (!f.ok()) break;
    if (c.user_counters.find(name) != c.user_counters.end())
      f.fail("user_gauges", "'" + name + "' is a counter too: a name is one or the other");
  }
  if (!f.ok()) error = f.error();
  return f.ok();
}

bool read_state(ObjectReader& f, DirectoryState& s) {
  f.str("epoch", s.epoch, kMaxName);
  f.uint("seq", s.seq);
  f.uint("uptime_ms", s.uptime_ms);
  f.boolean("settled", s.settled);
  return f.ok();
}

// channel -> seq maps (a snapshot's channel_seq, a tick's changed).
void pack_seq_map(Packer& p, std::string_view key, const std::map<std::string, std::uint64_t>& m) {
  p.pack(key);
  p.pack_map(static_cast<std::uint32_t>(m.size()));
  for (const auto& [channel, seq] : m) {
    p.pack(std::string_view(channel));
    p.pack(seq);
  }
}

bool read_seq_map(ObjectReader& f, std::string_view key, std::size_t max_len,
                  std::map<std::string, std::uint64_t>& out) {
  const auto* m = f.map(key, max_len, false);
  if (m == nullptr) return f.ok();
  for (std::uint32_t i = 0; i < m->size; ++i) {
    const auto& kv = m->ptr[i];
    if (kv.key.type != msgpack::type::STR || kv.key.via.str.size > kMaxName ||
        kv.val.type != msgpack::type::POSITIVE_INTEGER) {
      f.fail(key, "expected a map of channel name (up to " + std::to_string(kMaxName) +
                      " bytes) to unsigned seq");
      return false;
    }
    out[std::string(kv.key.via.str.ptr, kv.key.via.str.size)] = kv.val.via.u64;
  }
  return true;
}

// Reads the common header of a request or reply: version, op, id.
bool read_header(ObjectReader& f, std::string& op, std::uint64_t& id) {
  std::uint64_t version = 0;
  if (!f.uint("v", version)) return false;
  if (version != kDirectoryProtocolVersion) {
    f.fail("v", "unsupported protocol version " + std::to_string(version) + " (this is " +
                    std::to_string(kDirectoryProtocolVersion) + ")");
    return false;
  }
  f.str("op", op, 32);
  f.uint("id", id);
  return f.ok();
}

std::string_view reply_op(const DirectoryReplyBody& body) {
  return std::visit(Overloaded{[](const HelloReply&) { return std::string_view("hello"); },
                               [](const AckReply&) { return std::string_view("ack"); },
                               [](const EntriesReply&) { return std::string_view("entries"); },
                               [](const ListReply&) { return std::string_view("list"); },
                               [](const ErrorReply&) { return std::string_view("error"); }},
                    body);
}

std::string finish(msgpack::sbuffer& b) {
  return std::string(b.data(), b.size());
}

ProtocolStatus too_large(std::string_view what, std::size_t size) {
  return ProtocolStatus::failure(std::string(what) + " is " + std::to_string(size) +
                                     " bytes, more than the limit of " +
                                     std::to_string(kMaxDirectoryFrame) + " bytes",
                                 DirectoryErrc::kTooLarge);
}

}  // namespace

std::string_view to_string(Direction d) noexcept {
  return d == Direction::kIn ? "in" : "out";
}

std::string DirectoryEntry::instance_name() const {
  return node + "." + std::to_string(instance);
}

namespace {
std::string channel_topic(std::string_view kind, std::string_view channel) {
  std::string t(kind);
  t += channel;
  t += ':';  // so that subscribing to "update:c1:" does not also match "update:c10:"
  return t;
}
}  // namespace

bool valid_directory_name(std::string_view s) noexcept {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

std::string scoped_name(std::string_view topology, std::string_view name) {
  std::string s;
  if (!topology.empty()) {
    s = topology;
    s += '/';
  }
  s += name;
  return s;
}
std::string update_topic(std::string_view topology, std::string_view channel) {
  return channel_topic(kUpdateKind, scoped_name(topology, channel));
}
std::string mark_topic(std::string_view topology, std::string_view channel) {
  return channel_topic(kMarkKind, scoped_name(topology, channel));
}
bool is_update_topic(std::string_view frame) noexcept {
  return frame.starts_with(kUpdateKind);
}
bool is_mark_topic(std::string_view frame) noexcept {
  return frame.starts_with(kMarkKind);
}

std::string_view op_name(const DirectoryRequestBody& body) noexcept {
  return std::visit(
      Overloaded{[](const HelloRequest&) { return std::string_view("hello"); },
                 [](const RegisterRequest&) { return std::string_view("register"); },
                 [](const HeartbeatRequest&) { return std::string_view("heartbeat"); },
                 [](const UnregisterRequest&) { return std::string_view("unregister"); },
                 [](const ResolveRequest&) { return std::string_view("resolve"); },
                 [](const SnapshotRequest&) { return std::string_view("snapshot"); },
                 [](const ListRequest&) { return std::string_view("list"); }},
      body);
}

std::string_view to_string(DirectoryErrc e) noexcept {
  switch (e) {
    case DirectoryErrc::kBadRequest:
      return "bad_request";
    case DirectoryErrc::kUnknownOp:
      return "unknown_op";
    case DirectoryErrc::kUnknownInstance:
      return "unknown_instance";
    case DirectoryErrc::kStaleIncarnation:
      return "stale_incarnation";
    case DirectoryErrc::kTooLarge:
      return "too_large";
    case DirectoryErrc::kDenied:
      return "denied";
  }
  return "bad_request";
}

std::optional<DirectoryErrc> parse_directory_errc(std::string_view s) noexcept {
  for (auto e :
       {DirectoryErrc::kBadRequest, DirectoryErrc::kUnknownOp, DirectoryErrc::kUnknownInstance,
        DirectoryErrc::kStaleIncarnation, DirectoryErrc::kTooLarge, DirectoryErrc::kDenied}) {
    if (to_string(e) == s) return e;
  }
  return std::nullopt;
}

std::string_view to_string(ChangeOp op) noexcept {
  return op == ChangeOp::kAdd ? "add" : "remove";
}

std::string_view to_string(ChangeReason r) noexcept {
  switch (r) {
    case ChangeReason::kRegistered:
      return "registered";
    case ChangeReason::kUnregistered:
      return "unregistered";
    case ChangeReason::kExpired:
      return "expired";
    case ChangeReason::kReplaced:
      return "replaced";
  }
  return "registered";
}

// ---- encode ------------------------------------------------------------------------------

std::string encode(const DirectoryRequest& r) {
  msgpack::sbuffer b;
  Packer p(b);
  const std::uint32_t common = 3;
  std::visit(
      Overloaded{[&](const HelloRequest& q) {
                   // Only when set: a directory before push ignores the key all the same.
                   p.pack_map(common + (q.push ? 1 : 0));
                   if (q.push) pack_kb(p, "push", true);
                 },
                 [&](const RegisterRequest& q) {
                   p.pack_map(common + 7 + scope_fields(q.topology) + token_fields(q.token) +
                              (q.push ? 1 : 0));
                   pack_scope(p, q.topology);
                   pack_token(p, q.token);
                   if (q.push) pack_kb(p, "push", true);
                   pack_kv(p, "node", q.node);
                   pack_kv(p, "instance", q.instance);
                   pack_kv(p, "incarnation", q.incarnation);
                   pack_kv(p, "host", q.host);
                   pack_kv(p, "pid", q.pid);
                   pack_kv(p, "lease_ms", q.lease_ms);
                   p.pack(std::string_view("registrations"));
                   p.pack_array(static_cast<std::uint32_t>(q.registrations.size()));
                   for (const auto& reg : q.registrations)
                     pack_registration(p, reg);
                 },
                 [&](const HeartbeatRequest& q) {
                   p.pack_map(common + 4 + scope_fields(q.topology) + token_fields(q.token));
                   pack_scope(p, q.topology);
                   pack_token(p, q.token);
                   pack_kv(p, "node", q.node);
                   pack_kv(p, "instance", q.instance);
                   pack_kv(p, "incarnation", q.incarnation);
                   p.pack(std::string_view("counters"));
                   pack_counters(p, q.counters);
                 },
                 [&](const UnregisterRequest& q) {
                   p.pack_map(common + 3 + scope_fields(q.topology) + token_fields(q.token));
                   pack_scope(p, q.topology);
                   pack_token(p, q.token);
                   pack_kv(p, "node", q.node);
                   pack_kv(p, "instance", q.instance);
                   pack_kv(p, "incarnation", q.incarnation);
                 },
                 [&](const ResolveRequest& q) {
                   p.pack_map(common + 1 + scope_fields(q.topology));
                   pack_scope(p, q.topology);
                   pack_kv(p, "channel", q.channel);
                 },
                 [&](const SnapshotRequest& q) {
                   p.pack_map(common + (q.channels.empty() ? 0 : 1) + scope_fields(q.topology));
                   pack_scope(p, q.topology);
                   if (!q.channels.empty()) {
                     p.pack(std::string_view("channels"));
                     p.pack_array(static_cast<std::uint32_t>(q.channels.size()));
                     for (const auto& c : q.channels)
                       p.pack(std::string_view(c));
                   }
                 },
                 [&](const ListRequest&) { p.pack_map(common); }},
      r.body);
  pack_kv(p, "v", kDirectoryProtocolVersion);
  pack_kv(p, "op", op_name(r.body));
  pack_kv(p, "id", r.id);
  return finish(b);
}

std::string encode(const DirectoryReply& r) {
  msgpack::sbuffer b;
  Packer p(b);
  const std::uint32_t common = 4;  // v, op, id, ok
  std::visit(Overloaded{[&](const HelloReply& q) {
                          p.pack_map(common + kStateFields + 3 + (q.push ? 1 : 0));
                          pack_state(p, q.state);
                          if (q.push) pack_kb(p, "push", true);
                          pack_kv(p, "pub", q.pub_endpoint);
                          pack_kv(p, "ttl_ms", q.ttl_ms);
                          pack_kv(p, "heartbeat_ms", q.heartbeat_ms);
                        },
                        [&](const AckReply& q) {
                          p.pack_map(common + kStateFields);
                          pack_state(p, q.state);
                        },
                        [&](const EntriesReply& q) {
                          p.pack_map(common + kStateFields + 1 + (q.channel_seq.empty() ? 0 : 1));
                          pack_state(p, q.state);
                          p.pack(std::string_view("entries"));
                          p.pack_array(static_cast<std::uint32_t>(q.entries.size()));
                          for (const auto& e : q.entries)
                            pack_entry(p, e);
                          if (!q.channel_seq.empty()) pack_seq_map(p, "channel_seq", q.channel_seq);
                        },
                        [&](const ListReply& q) {
                          p.pack_map(common + kStateFields + 1);
                          pack_state(p, q.state);
                          p.pack(std::string_view("instances"));
                          p.pack_array(static_cast<std::uint32_t>(q.instances.size()));
                          for (const auto& i : q.instances) {
                            p.pack_map(10 + scope_fields(i.topology));
                            pack_scope(p, i.topology);
                            pack_kv(p, "node", i.node);
                            pack_kv(p, "instance", i.instance);
                            pack_kv(p, "incarnation", i.incarnation);
                            pack_kv(p, "host", i.host);
                            pack_kv(p, "pid", i.pid);
                            pack_kv(p, "lease_ms", i.lease_ms);
                            pack_kv(p, "age_ms", i.age_ms);
                            pack_kv(p, "registered_ms", i.registered_ms);
                            p.pack(std::string_view("registrations"));
                            p.pack_array(static_cast<std::uint32_t>(i.registrations.size()));
                            for (const auto& reg : i.registrations)
                              pack_registration(p, reg);
                            p.pack(std::string_view("counters"));
                            pack_counters(p, i.counters);
                          }
                        },
                        [&](const ErrorReply& q) {
                          p.pack_map(common + 2);
                          pack_kv(p, "error", to_string(q.code));
                          pack_kv(p, "detail", q.detail);
                        }},
             r.body);
  pack_kv(p, "v", kDirectoryProtocolVersion);
  pack_kv(p, "op", reply_op(r.body));
  pack_kv(p, "id", r.id);
  pack_kb(p, "ok", !std::holds_alternative<ErrorReply>(r.body));
  return finish(b);
}

std::string encode(const DirectoryUpdate& u) {
  msgpack::sbuffer b;
  Packer p(b);
  p.pack_map(7);
  pack_kv(p, "v", kDirectoryProtocolVersion);
  pack_kv(p, "epoch", u.epoch);
  pack_kv(p, "seq", u.seq);
  pack_kv(p, "prev", u.prev);
  pack_kv(p, "op", to_string(u.op));
  pack_kv(p, "reason", to_string(u.reason));
  p.pack(std::string_view("entry"));
  pack_entry(p, u.entry);
  return finish(b);
}

std::string encode(const DirectoryTick& t) {
  msgpack::sbuffer b;
  Packer p(b);
  p.pack_map(1 + kStateFields);
  pack_kv(p, "v", kDirectoryProtocolVersion);
  pack_state(p, t.state);
  return finish(b);
}

std::string encode(const DirectoryMark& m) {
  msgpack::sbuffer b;
  Packer p(b);
  p.pack_map(4 + scope_fields(m.topology));
  pack_scope(p, m.topology);
  pack_kv(p, "v", kDirectoryProtocolVersion);
  pack_kv(p, "epoch", m.epoch);
  pack_kv(p, "channel", m.channel);
  pack_kv(p, "seq", m.seq);
  return finish(b);
}

// ---- decode ------------------------------------------------------------------------------

ProtocolStatus decode(std::span<const std::byte> frame, DirectoryRequest& out) {
  if (frame.size() > kMaxDirectoryFrame) return too_large("request", frame.size());
  msgpack::object_handle h;
  std::string why;
  if (!detail::unpack_control_frame(as_string_view(frame), h, why)) {
    return ProtocolStatus::failure(why);
  }
  ObjectReader f(h.get(), "");
  std::string op;
  if (!read_header(f, op, out.id)) return ProtocolStatus::failure(f.error());

  if (op == "hello") {
    HelloRequest q;
    f.boolean("push", q.push, false);
    out.body = q;
  } else if (op == "register") {
    RegisterRequest q;
    read_instance_id(f, q.node, q.instance, q.incarnation);
    read_scope(f, q.topology);
    f.str("token", q.token, kMaxDirectoryToken, false);
    f.boolean("push", q.push, false);
    f.str("host", q.host, kMaxName, false);
    f.uint32("pid", q.pid, false);
    f.uint32("lease_ms", q.lease_ms, false);
    read_registrations(f, "registrations", q.registrations);
    out.body = std::move(q);
  } else if (op == "heartbeat") {
    HeartbeatRequest q;
    read_instance_id(f, q.node, q.instance, q.incarnation);
    read_scope(f, q.topology);
    f.str("token", q.token, kMaxDirectoryToken, false);
    if (const auto* c = f.find("counters"); c != nullptr && f.ok()) {
      std::string err;
      if (!read_counters(*c, "counters", q.counters, err)) {
        return ProtocolStatus::failure(err + " (heartbeat of " + q.node + "." +
                                       std::to_string(q.instance) + ")");
      }
    }
    out.body = std::move(q);
  } else if (op == "unregister") {
    UnregisterRequest q;
    read_instance_id(f, q.node, q.instance, q.incarnation);
    read_scope(f, q.topology);
    f.str("token", q.token, kMaxDirectoryToken, false);
    out.body = std::move(q);
  } else if (op == "resolve") {
    ResolveRequest q;
    f.str("channel", q.channel, kMaxName);
    read_scope(f, q.topology);
    out.body = std::move(q);
  } else if (op == "snapshot") {
    SnapshotRequest q;
    read_scope(f, q.topology);
    if (const auto* arr = f.array("channels", kMaxRegistrations, false)) {
      for (std::uint32_t i = 0; i < arr->size; ++i) {
        const auto& c = arr->ptr[i];
        if (c.type != msgpack::type::STR || c.via.str.size > kMaxName) {
          f.fail_nested(f.child("channels", i) + ": expected a channel name of up to " +
                        std::to_string(kMaxName) + " bytes");
          break;
        }
        q.channels.emplace_back(c.via.str.ptr, c.via.str.size);
      }
    }
    out.body = std::move(q);
  } else if (op == "list") {
    out.body = ListRequest{};
  } else {
    return ProtocolStatus::failure("unknown op '" + op + "'", DirectoryErrc::kUnknownOp);
  }
  if (!f.ok()) return ProtocolStatus::failure(f.error());
  return {};
}

ProtocolStatus decode(std::span<const std::byte> frame, DirectoryReply& out) {
  if (frame.size() > kMaxDirectoryFrame) return too_large("reply", frame.size());
  msgpack::object_handle h;
  std::string why;
  if (!detail::unpack_control_frame(as_string_view(frame), h, why)) {
    return ProtocolStatus::failure(why);
  }
  ObjectReader f(h.get(), "");
  std::string op;
  bool ok = false;
  if (!read_header(f, op, out.id) || !f.boolean("ok", ok)) {
    return ProtocolStatus::failure(f.error());
  }
  if (!ok) {
    ErrorReply e;
    std::string code;
    f.str("error", code, 64);
    f.str("detail", e.detail, kMaxDetail, false);
    if (!f.ok()) return ProtocolStatus::failure(f.error());
    e.code = parse_directory_errc(code).value_or(DirectoryErrc::kBadRequest);
    out.body = std::move(e);
    return {};
  }
  DirectoryState state;
  read_state(f, state);
  if (op == "hello") {
    HelloReply r{state, {}, 0, 0};
    f.boolean("push", r.push, false);
    f.str("pub", r.pub_endpoint, kMaxEndpoint);
    f.uint32("ttl_ms", r.ttl_ms);
    f.uint32("heartbeat_ms", r.heartbeat_ms);
    out.body = std::move(r);
  } else if (op == "ack") {
    out.body = AckReply{state};
  } else if (op == "entries") {
    EntriesReply r{state, {}, {}};
    if (const auto* arr = f.array("entries", kMaxEntries)) {
      r.entries.resize(arr->size);
      for (std::uint32_t i = 0; i < arr->size; ++i) {
        std::string err;
        if (!read_entry(arr->ptr[i], f.child("entries", i), r.entries[i], err)) {
          return ProtocolStatus::failure(err);
        }
      }
    }
    read_seq_map(f, "channel_seq", kMaxEntries, r.channel_seq);
    out.body = std::move(r);
  } else if (op == "list") {
    ListReply r{state, {}};
    if (const auto* arr = f.array("instances", kMaxEntries)) {
      r.instances.resize(arr->size);
      for (std::uint32_t i = 0; i < arr->size && f.ok(); ++i) {
        ObjectReader g(arr->ptr[i], f.child("instances", i));
        auto& inst = r.instances[i];
        read_instance_id(g, inst.node, inst.instance, inst.incarnation);
        read_scope(g, inst.topology);
        g.str("host", inst.host, kMaxName, false);
        g.uint32("pid", inst.pid, false);
        g.uint32("lease_ms", inst.lease_ms, false);
        g.uint("age_ms", inst.age_ms, false);
        g.uint("registered_ms", inst.registered_ms, false);
        read_registrations(g, "registrations", inst.registrations);
        if (const auto* c = g.find("counters"); c != nullptr && g.ok()) {
          std::string err;
          if (!read_counters(*c, g.child("counters"), inst.counters, err)) {
            return ProtocolStatus::failure(err);
          }
        }
        if (!g.ok()) return ProtocolStatus::failure(g.error());
      }
    }
    out.body = std::move(r);
  } else {
    return ProtocolStatus::failure("unknown reply op '" + op + "'");
  }
  if (!f.ok()) return ProtocolStatus::failure(f.error());
  return {};
}

namespace {
// A PUB notification (update, tick, mark): the size limit, one msgpack map, the version; then
// `read` takes the fields and returns the first problem it finds beyond what `f` records.
template <class Read>
ProtocolStatus decode_notification(std::span<const std::byte> frame, std::string_view what,
                                   Read read) {
  if (frame.size() > kMaxDirectoryFrame) return too_large(what, frame.size());
  msgpack::object_handle h;
  std::string why;
  if (!detail::unpack_control_frame(as_string_view(frame), h, why)) {
    return ProtocolStatus::failure(why);
  }
  ObjectReader f(h.get(), "");
  std::uint64_t version = 0;
  if (!f.uint("v", version)) return ProtocolStatus::failure(f.error());
  if (version != kDirectoryProtocolVersion) {
    return ProtocolStatus::failure("unsupported protocol version " + std::to_string(version));
  }
  ProtocolStatus st = read(f);
  if (!f.ok()) return ProtocolStatus::failure(f.error());
  return st;
}
}  // namespace

ProtocolStatus decode(std::span<const std::byte> frame, DirectoryUpdate& out) {
  return decode_notification(frame, "update", [&](ObjectReader& f) -> ProtocolStatus {
    std::string op, reason;
    f.str("epoch", out.epoch, kMaxName);
    f.uint("seq", out.seq);
    f.uint("prev", out.prev);
    f.str("op", op, 16);
    f.str("reason", reason, 32);
    if (!f.ok()) return {};
    if (op == "add") {
      out.op = ChangeOp::kAdd;
    } else if (op == "remove") {
      out.op = ChangeOp::kRemove;
    } else {
      return ProtocolStatus::failure("op: expected 'add' or 'remove', got '" + op + "'");
    }
    bool known_reason = false;
    for (auto r : {ChangeReason::kRegistered, ChangeReason::kUnregistered, ChangeReason::kExpired,
                   ChangeReason::kReplaced}) {
      if (to_string(r) == reason) {
        out.reason = r;
        known_reason = true;
      }
    }
    if (!known_reason) return ProtocolStatus::failure("reason: unknown '" + reason + "'");
    const auto* entry = f.find("entry");
    if (entry == nullptr) return ProtocolStatus::failure("entry: missing");
    std::string err;
    if (!read_entry(*entry, "entry", out.entry, err)) return ProtocolStatus::failure(err);
    return {};
  });
}

ProtocolStatus decode(std::span<const std::byte> frame, DirectoryTick& out) {
  return decode_notification(frame, "tick", [&](ObjectReader& f) -> ProtocolStatus {
    read_state(f, out.state);
    return {};
  });
}

ProtocolStatus decode(std::span<const std::byte> frame, DirectoryMark& out) {
  return decode_notification(frame, "mark", [&](ObjectReader& f) -> ProtocolStatus {
    f.str("epoch", out.epoch, kMaxName);
    f.str("channel", out.channel, kMaxName);
    f.uint("seq", out.seq);
    read_scope(f, out.topology);
    return {};
  });
}

}  // namespace brook
