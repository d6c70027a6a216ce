// The replicas of one consuming node that a sender's socket connects to: who they are (from the
// directory), whether their handshake completed (from the socket monitor), and how a ROUTER
// addresses them. Shared by the best-effort and the reliable sender; owns no routing decision.
//
// A routed set (the reliable sender's ROUTER, ZMQ_RECONNECT_IVL -1) reconnects by itself rather
// than letting libzmq do it: libzmq would keep the old pipe across its reconnect, so what the loop
// sends before it learns of the drop would travel on the new connection ahead of the messages lost
// with the old one, which are re-sent later (per-key order, docs/reliability.md). On a drop it
// takes back what the replica held (`gone`, so it is re-sent first, in order), discards the old
// connection and connects again at once with a fresh routing id (a ROUTER may not reuse the id of
// a pipe still terminating); a connection that fails or does not complete its handshake within
// kHandshakeDeadline is tried again after 10 ms, then 100 ms doubling to 1 s; its keys move
// to the other replicas after three failures in a row.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <zmq.hpp>

#include "directory/directory_protocol.hpp"
#include "runtime/socket_monitor.hpp"
#include "security/security.hpp"

namespace brook::detail {

// FNV-1a of an ordering key (never 0, which means "no key"), for order_by: key.
std::uint64_t key_hash(std::string_view key) noexcept;

struct Replica {
  using Clock = std::chrono::steady_clock;
  std::uint32_t id = 0;       // never 0; unique within the set for its lifetime
  std::string name;           // "node.instance@incarnation"
  std::string endpoint;       // where it listens
  std::string routing_id;     // how a ROUTER addresses its current connection ("r<id>.<n>")
  std::uint64_t hash = 0;     // of `name`, for rendezvous hashing
  bool connected = false;     // handshake done and not disconnected since
  bool draining = false;      // it said it is stopping: nothing new goes to it
  std::size_t in_flight = 0;  // unacknowledged messages (reliable senders keep it)
  // Routed sets: it keeps its keys (order_by: key) while connected and while it reconnects after
  // a drop; not after a few failed attempts in a row (likely dead: its keys move).
  bool keeps_keys = false;
  bool awaiting_handshake = false;  // retry_at is the current attempt's deadline
  bool lost = false;                // a send found its connection gone before the monitor said so
  std::uint32_t connections = 0;    // made so far (each with a fresh routing id)
  std::uint32_t failures = 0;       // connection attempts failed since its last handshake
  Clock::time_point retry_at = Clock::time_point::max();  // when to connect again
};

class ReplicaSet {
 public:
  // `socket` must outlive the set; `security`: each replica is connected to as a CURVE server
  // holding `node`'s key. `routed`: give each connection a routing id (ROUTER sockets).
  ReplicaSet(zmq::context_t& context, zmq::socket_t& socket, std::string node,
             const Security& security, bool routed);

  const std::string& node() const noexcept { return node_; }

  // Connects to the entry's endpoint (once per endpoint); false, logged, when it cannot.
  bool add(const DirectoryEntry& e);
  // Disconnects; `gone` sees the replica first (to take back what it holds). False when unknown.
  bool remove(const DirectoryEntry& e, const std::function<void(Replica&)>& gone);

  // Reads the monitor's events; `gone` is called for each replica that disconnected.
  void on_monitor_event(const std::function<void(Replica&)>& gone);
  // Routed sets: a send found `r`'s connection gone (EHOSTUNREACH); the monitor's drop event,
  // already queued, reconnects it.
  void lost(Replica& r) noexcept;
  // Routed sets: when retry_due() is next needed (time_point::max(): not).
  Replica::Clock::time_point next_retry() const noexcept;
  // Connects again to each replica whose retry time passed; `gone` sees it first.
  void retry_due(Replica::Clock::time_point now, const std::function<void(Replica&)>& gone);
  void* monitor_socket() noexcept { return monitor_->handle(); }

  Replica* find(std::uint32_t id) noexcept;
  // Visits every replica, in endpoint order.
  template <class F>
  void for_each(F&& f) {
    for (auto& [ep, r] : replicas_)
      f(r);
  }
  std::size_t known() const noexcept { return replicas_.size(); }
  bool routed() const noexcept { return routed_; }
  std::size_t connected() const noexcept;
  // Connected and not stopping: those that take new messages.
  std::size_t available() const noexcept;
  // Every replica the directory lists completed its handshake (and there is one).
  bool all_connected() const noexcept;

 private:
  zmq::socket_t* socket_;
  std::string node_;
  const Security* security_;
  bool routed_;
  bool connect(Replica& r);
  // Discards r's connection and makes a new one (fresh routing id); `gone` sees it first.
  void reconnect(Replica& r, const std::function<void(Replica&)>& gone);
  void drop_connection(const std::string& endpoint);
  // An attempt failed: counts it and schedules the next one.
  void failed(Replica& r);

  std::unique_ptr<SocketMonitor> monitor_;
  std::map<std::string, Replica> replicas_;  // by endpoint
  std::uint32_t next_id_ = 1;
};

}  // namespace brook::detail
