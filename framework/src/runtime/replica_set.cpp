#include "runtime/replica_set.hpp"

#include <algorithm>
#include <brook/error.hpp>
#include <brook/log.hpp>

namespace brook::detail {

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
          context, socket, ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED)) {}

bool ReplicaSet::add(const DirectoryEntry& e) {
  const auto& ep = e.reg.endpoint;
  if (replicas_.count(ep)) return true;
  Replica r;
  r.id = next_id_++;
  r.name = e.instance_name() + "@" + e.incarnation;
  // Appended rather than `"r" + std::to_string(...)`, which trips GCC 12's false -Wrestrict at -O3.
  r.routing_id = std::to_string(r.id);
  r.routing_id.insert(r.routing_id.begin(), 'r');
  r.hash = key_hash(r.name);
  try {
    security_->configure_client(*socket_, node_);  // options are taken at connect time
    if (routed_) socket_->set(zmq::sockopt::connect_routing_id, r.routing_id);
    socket_->connect(ep);
  } catch (const ConfigError& err) {
    BROOK_LOG(kWarn) << "not connecting to " << e.instance_name() << " at " << ep << ": "
                     << err.what();
    return false;
  } catch (const zmq::error_t& err) {
    BROOK_LOG(kWarn) << "cannot connect to " << e.instance_name() << " at " << ep << ": "
                     << err.what();
    return false;
  }
  replicas_.emplace(ep, std::move(r));
  return true;
}

bool ReplicaSet::remove(const DirectoryEntry& e, const std::function<void(Replica&)>& gone) {
  const auto it = replicas_.find(e.reg.endpoint);
  if (it == replicas_.end()) return false;
  it->second.connected = false;
  gone(it->second);
  replicas_.erase(it);
  try {
    // The replica left the directory: it will not come back at this endpoint. What its pipe
    // still queues was sent before we knew (at-least-once senders re-send it elsewhere); with
    // the socket's linger, that pipe would keep reconnecting for up to drain_timeout and hold
    // the process's exit (zmq_ctx_term) that long.
    const int linger = socket_->get(zmq::sockopt::linger);
    socket_->set(zmq::sockopt::linger, 0);
    socket_->disconnect(e.reg.endpoint);
    socket_->set(zmq::sockopt::linger, linger);
  } catch (const zmq::error_t&) {
    // The connection may already be gone; nothing else to undo.
  }
  return true;
}

void ReplicaSet::on_monitor_event(const std::function<void(Replica&)>& gone) {
  monitor_->drain([&](int event, std::int32_t, const std::string& endpoint) {
    const auto it = replicas_.find(endpoint);
    if (it == replicas_.end()) return;  // a replica we already disconnected
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      it->second.connected = true;
    } else if (event == ZMQ_EVENT_DISCONNECTED) {
      it->second.connected = false;
      gone(it->second);
    }
  });
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
