// A node's input port: a PULL (pipeline) or SUB (pubsub) socket bound to an ephemeral port on the
// advertise host, registered with the directory under the port's channel.
#pragma once

#include <brook/log.hpp>
#include <brook/node.hpp>
#include <brook/topology.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>
#include <zmq.hpp>

#include "directory/directory_protocol.hpp"
#include "runtime/dedupe_window.hpp"
#include "runtime/socket_monitor.hpp"
#include "security/security.hpp"

namespace brook::detail {

class InputPort {
 public:
  // Binds at once; throws ZmqError if the host cannot be bound.
  InputPort(zmq::context_t& context, const PortSpec& port, const ChannelSpec& channel,
            const std::string& advertise, const std::string& own_id, bool tap,
            std::chrono::milliseconds linger, ChannelCounters& counters, const Security& security);

  const std::string& port() const noexcept { return port_; }
  const ChannelSpec& channel() const noexcept { return *channel_; }
  const std::string& endpoint() const noexcept { return endpoint_; }
  bool tap() const noexcept { return tap_; }
  const Limits& limits() const noexcept { return limits_; }
  ChannelCounters& counters() noexcept { return counters_; }
  Registration registration() const;
  void* socket() noexcept { return socket_.handle(); }
  // With CURVE: the monitor reporting handshakes that failed before the ZAP handler could judge
  // them (no CURVE, wrong server key, garbage, silence past the handshake interval); nullptr
  // otherwise. Its events are read by on_monitor_event(), which counts them as `refused`.
  void* monitor_socket() noexcept { return monitor_ ? monitor_->handle() : nullptr; }
  void on_monitor_event();

  std::function<void(const Message&)>& handler() noexcept { return handler_; }

  // At-least-once (a ROUTER bound instead of a PULL): whether the message with this id was
  // handled here already, and the acknowledgement of the one just received, sent back to its
  // producer in batches (flush_acks) once the handler returned.
  bool reliable() const noexcept { return reliable_; }
  bool handled(const MessageId& id);
  void ack(const MessageId& id);
  void flush_acks();
  // Chained acknowledgement: the message just handled emitted messages that are not yet
  // acknowledged downstream, so its own ack waits (defer); ack_deferred sends it later. A
  // re-send of a deferred message is neither handled again nor acked early.
  const std::string& peer() const noexcept { return peer_; }
  void set_peer(const std::string& peer) { peer_ = peer; }
  void defer(const MessageId& id);
  bool deferred(const MessageId& id) const;
  void ack_deferred(const std::string& peer, const std::string& producer, std::uint64_t seq);

  // Pubsub: records a publisher's sequence number; returns how many it skipped since the last.
  std::uint64_t note_published(const MessageId& id);

  enum class Received { kNothing, kMessage, kWelcome, kMalformed };
  // Reads one message. kMessage: `body` holds the envelope frame. kWelcome: a publisher's
  // welcome was recorded. kMalformed: wrong frame structure; `why` says what.
  Received receive(zmq::message_t& body, std::string& why);

  // Pubsub: the publishers the directory lists, and which of them welcomed us.
  void publisher_added(const DirectoryEntry& e);
  void publisher_removed(const DirectoryEntry& e);
  bool all_publishers_welcomed() const;
  std::string waiting_for() const;  // publishers not yet heard from, for logs

 private:
  std::string port_;
  const ChannelSpec* channel_;
  std::string own_id_;
  bool tap_;
  bool reliable_;
  std::string hello_;
  zmq::socket_t socket_;
  std::string endpoint_;
  Limits limits_;
  ChannelCounters& counters_;
  std::unique_ptr<SocketMonitor> monitor_;
  LogRateLimiter refused_log_;
  std::function<void(const Message&)> handler_;
  std::size_t drain_parts(zmq::message_t& body, std::size_t parts);
  void mark_handled(const MessageId& id);
  void queue_ack(const std::string& peer, std::uint64_t seq);

  std::string peer_;  // routing id of the producer of the message being handled (reliable)
  std::map<std::string, DedupeWindow, std::less<>> seen_;                // by producer id
  std::map<std::string, std::vector<std::uint64_t>, std::less<>> acks_;  // by routing id
  std::size_t acks_waiting_ = 0;
  std::map<std::string, std::unordered_set<std::uint64_t>, std::less<>> deferred_;  // by producer
  std::size_t max_acks_per_frame_ = 1024;
  std::map<std::string, std::uint64_t, std::less<>> last_published_;  // pubsub, by producer id
  std::set<std::string> publishers_;               // producer ids listed by the directory
  std::map<std::string, std::uint64_t> welcomed_;  // producer id -> first seq we will see
};

}  // namespace brook::detail
