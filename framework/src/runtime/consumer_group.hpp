// One consuming node of a pipeline channel, as seen by a producer: a PUSH socket connected to
// that node's live replicas (work sharing inside the group) plus a bounded queue of messages the
// group could not take yet (no replica connected, or every replica at its high-water mark).
#pragma once

#include <brook/directory_protocol.hpp>
#include <brook/topology.hpp>

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <zmq.hpp>

#include "runtime/socket_monitor.hpp"

namespace brook::detail {

enum class Offer { kSent, kQueued, kFull };

class ConsumerGroup {
 public:
  // `tap`: an observer (brook tap) — never queued for, dropped when it cannot keep up.
  ConsumerGroup(zmq::context_t& context, const ChannelSpec& channel, std::string node, bool tap,
                std::chrono::milliseconds linger);

  const std::string& node() const noexcept { return node_; }
  bool tap() const noexcept { return tap_; }

  void add_replica(const DirectoryEntry& e);
  void remove_replica(const DirectoryEntry& e);

  // Sends `msg` now (moved from) or queues it behind earlier ones; kFull when the queue is at
  // max_pending (msg untouched).
  [[nodiscard]] Offer offer(zmq::message_t& msg);
  // Sends queued messages while the socket takes them. Returns how many were sent.
  std::size_t flush();
  std::size_t pending() const noexcept { return pending_.size(); }

  void* socket() noexcept { return push_.handle(); }
  void* monitor_socket() noexcept { return monitor_->handle(); }
  void on_monitor_event();

  std::size_t known_replicas() const noexcept { return replicas_.size(); }
  std::size_t connected_replicas() const noexcept { return connected_.size(); }
  // Every replica the directory lists has completed its handshake.
  bool all_connected() const noexcept;

 private:
  std::string node_;
  bool tap_;
  std::size_t max_pending_;
  zmq::socket_t push_;
  std::unique_ptr<SocketMonitor> monitor_;
  std::map<std::string, std::string> replicas_;  // endpoint -> "node.instance@incarnation"
  std::set<std::string> connected_;              // endpoints with a completed handshake
  std::deque<zmq::message_t> pending_;
};

}  // namespace brook::detail
