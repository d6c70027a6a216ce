// The replicas of one consuming node that a sender's socket connects to: who they are (from the
// directory), whether their handshake completed (from the socket monitor), and how a ROUTER
// addresses them. Shared by the best-effort and the reliable sender; owns no routing decision.
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
  std::uint32_t id = 0;       // never 0; unique within the set for its lifetime
  std::string name;           // "node.instance@incarnation"
  std::string routing_id;     // how a ROUTER addresses it ("r<id>")
  std::uint64_t hash = 0;     // of `name`, for rendezvous hashing
  bool connected = false;     // handshake done and not disconnected since
  bool draining = false;      // it said it is stopping: nothing new goes to it
  std::size_t in_flight = 0;  // unacknowledged messages (reliable senders keep it)
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
  void* monitor_socket() noexcept { return monitor_->handle(); }

  Replica* find(std::uint32_t id) noexcept;
  // Visits every replica, in endpoint order.
  template <class F>
  void for_each(F&& f) {
    for (auto& [ep, r] : replicas_)
      f(r);
  }
  std::size_t known() const noexcept { return replicas_.size(); }
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
  std::unique_ptr<SocketMonitor> monitor_;
  std::map<std::string, Replica> replicas_;  // by endpoint
  std::uint32_t next_id_ = 1;
};

}  // namespace brook::detail
