#include "runtime/replica_set.hpp"

#include <algorithm>
#include <brook/error.hpp>
#include <brook/log.hpp>

namespace brook::detail {

namespace {
using namespace std::chrono_literals;
// A connection attempt that has not completed its handshake by then is tried again (a lost SYN,
// or a stale monitor event that made an attempt look alive).
constexpr auto kHandshakeDeadline = 2s;
// After a failed attempt: soon once (a reset can hit a reconnect's handshake too), then 100 ms
// doubling up to 1 s, as libzmq's own reconnect was configured.
constexpr auto kFirstBackoff = 10ms;
constexpr auto kSecondBackoff = 100ms;
constexpr auto kMaxBackoff = 1000ms;
// Consecutive failed attempts after which a replica's keys move to the others: one failure is
// what a reset of the reconnect's own packets looks like; a replica refusing three (~110 ms) is
// taken for dead until it answers again.
constexpr std::uint32_t kFailuresBeforeKeysMove = 3;

std::chrono::milliseconds backoff(std::uint32_t failures) {
  if (failures <= 1) return kFirstBackoff;
  auto d = kSecondBackoff;
  for (std::uint32_t i = 2; i < failures && d < kMaxBackoff; ++i)
    d *= 2;
  return std::min<std::chrono::milliseconds>(d, kMaxBackoff);
}
}  // namespace

std::uint64_t key_hash(std::string_view key) noexcept {
  std::uint64_t h = 1469598103934665603ull;
  for (const char c : key) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h == 0 ? 1 : h;
}

ReplicaSet::ReplicaSet(zmq::context_t& context, zmq::socket_t& socket, std::string node,
                       const Security& security, bool routed)
    : socket_(&socket),
      node_(std::move(node)),
      security_(&security),
      routed_(routed),
      monitor_(std::make_unique<SocketMonitor>(
          context, socket,
          ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
              // A refused connect: libzmq does not retry it (ZMQ_RECONNECT_IVL -1).
              (routed ? ZMQ_EVENT_CLOSED : 0))) {}

bool ReplicaSet::add(const DirectoryEntry& e) {
  const auto& ep = e.reg.endpoint;
  if (replicas_.count(ep)) return true;
  Replica r;
  r.id = next_id_++;
  r.name = e.instance_name() + "@" + e.incarnation;
  r.endpoint = ep;
  r.hash = key_hash(r.name);
  if (!connect(r)) return false;
  replicas_.emplace(ep, std::move(r));
  return true;
}

bool ReplicaSet::connect(Replica& r) {
  if (routed_) {
    // Appended rather than `"r" + std::to_string(...)`, which trips GCC 12's false -Wrestrict at
    // -O3. A fresh id per connection: the previous one's pipe may still be terminating.
    r.routing_id = std::to_string(r.id);
    r.routing_id.insert(r.routing_id.begin(), 'r');
    r.routing_id += '.';
    r.routing_id += std::to_string(r.connections++);
    r.retry_at = Replica::Clock::now() + kHandshakeDeadline;
    r.awaiting_handshake = true;
  }
  try {
    security_->configure_client(*socket_, node_);  // options are taken at connect time
    if (routed_) socket_->set(zmq::sockopt::connect_routing_id, r.routing_id);
    socket_->connect(r.endpoint);
  } catch (const ConfigError& err) {
    BROOK_LOG(kWarn) << "not connecting to " << r.name << " at " << r.endpoint << ": "
                     << err.what();
    return false;
  } catch (const zmq::error_t& err) {
    BROOK_LOG(kWarn) << "cannot connect to " << r.name << " at " << r.endpoint << ": "
                     << err.what();
    return false;
  }
  return true;
}

void ReplicaSet::drop_connection(const std::string& endpoint) {
  try {
    // What its pipe still queues is taken back by the caller (re-sent); with the socket's linger
    // the pipe would linger on for nothing.
    const int linger = socket_->get(zmq::sockopt::linger);
    socket_->set(zmq::sockopt::linger, 0);
    try {
      socket_->disconnect(endpoint);
    } catch (const zmq::error_t&) {
      // ENOENT: libzmq already ended it (ZMQ_RECONNECT_IVL -1 after a drop).
    }
    socket_->set(zmq::sockopt::linger, linger);
  } catch (const zmq::error_t&) {
    // A socket that cannot take the option keeps its linger: only slower to close.
  }
}

void ReplicaSet::reconnect(Replica& r, const std::function<void(Replica&)>& gone) {
  r.connected = false;
  r.lost = false;
  gone(r);  // before the new connection exists: what it held goes out first, in order
  drop_connection(r.endpoint);
  if (!connect(r)) failed(r);
}

void ReplicaSet::failed(Replica& r) {
  r.awaiting_handshake = false;
  if (++r.failures >= kFailuresBeforeKeysMove) r.keeps_keys = false;
  r.retry_at = std::min(r.retry_at, Replica::Clock::now() + backoff(r.failures));
}

bool ReplicaSet::remove(const DirectoryEntry& e, const std::function<void(Replica&)>& gone) {
  const auto it = replicas_.find(e.reg.endpoint);
  if (it == replicas_.end()) return false;
  it->second.connected = false;
  gone(it->second);
  replicas_.erase(it);
  // The replica left the directory: it will not come back at this endpoint. What its pipe
  // still queues was sent before we knew (at-least-once senders re-send it elsewhere); with
  // the socket's linger, that pipe would keep reconnecting for up to drain_timeout and hold
  // the process's exit (zmq_ctx_term) that long.
  drop_connection(e.reg.endpoint);
  return true;
}

void ReplicaSet::on_monitor_event(const std::function<void(Replica&)>& gone) {
  monitor_->drain([&](int event, std::int32_t, const std::string& endpoint) {
    const auto it = replicas_.find(endpoint);
    if (it == replicas_.end()) return;  // a replica we already disconnected
    Replica& r = it->second;
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      r.connected = true;
      r.keeps_keys = true;
      r.lost = false;
      r.failures = 0;
      r.awaiting_handshake = false;
      r.retry_at = Replica::Clock::time_point::max();
      return;
    }
    if (!routed_) {
      if (event == ZMQ_EVENT_DISCONNECTED) {
        r.connected = false;
        gone(r);
      }
      return;
    }
    if (r.connected || r.lost) {
      reconnect(r, gone);  // a connection that was up dropped: at once, keeping its keys
      return;
    }
    // An attempt failed (refused, or dropped during its handshake): tried again soon.
    failed(r);
  });
}

void ReplicaSet::lost(Replica& r) noexcept {
  r.connected = false;
  r.lost = true;
  // The drop event normally reconnects it at once; this only covers one that never comes.
  r.retry_at = std::min(r.retry_at, Replica::Clock::now() + kHandshakeDeadline);
}

Replica::Clock::time_point ReplicaSet::next_retry() const noexcept {
  auto t = Replica::Clock::time_point::max();
  if (!routed_) return t;
  for (const auto& [ep, r] : replicas_)
    t = std::min(t, r.retry_at);
  return t;
}

void ReplicaSet::retry_due(Replica::Clock::time_point now,
                           const std::function<void(Replica&)>& gone) {
  if (!routed_) return;
  for (auto& [ep, r] : replicas_) {
    if (r.retry_at > now) continue;
    // A handshake not done by its deadline is a failed attempt; a scheduled retry was counted.
    if (!r.lost && r.awaiting_handshake) failed(r);
    reconnect(r, gone);
  }
}

Replica* ReplicaSet::find(std::uint32_t id) noexcept {
  for (auto& [ep, r] : replicas_) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

std::size_t ReplicaSet::connected() const noexcept {
  return static_cast<std::size_t>(std::count_if(
      replicas_.begin(), replicas_.end(), [](const auto& kv) { return kv.second.connected; }));
}

std::size_t ReplicaSet::available() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(replicas_.begin(), replicas_.end(),
                    [](const auto& kv) { return kv.second.connected && !kv.second.draining; }));
}

bool ReplicaSet::all_connected() const noexcept {
  return !replicas_.empty() && connected() == replicas_.size();
}

}  // namespace brook::detail
