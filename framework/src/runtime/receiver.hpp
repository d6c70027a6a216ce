// A node's input port: a socket bound to an ephemeral port (ListenAddress) and registered
// with the directory under the port's channel. Three kinds, each owning its socket's protocol:
// PullReceiver (best-effort pipeline, and every tap of a pipeline), ReliableReceiver
// (at-least-once: de-duplication and acknowledgements) and SubReceiver (pubsub: welcomes and gap
// counting). What happens around a handler call is the same for all (NodeRuntime): receive(),
// admit(), the handler, settle().
//
// A receiver does no polling of its own: the loop reads it when its socket is readable.
#pragma once

#include <brook/log.hpp>
#include <brook/node.hpp>
#include <brook/topology.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "directory/directory_protocol.hpp"
#include "runtime/accept_guard.hpp"
#include "runtime/handler_timing.hpp"
#include "runtime/socket_monitor.hpp"
#include "runtime/socket_setup.hpp"
#include "security/security.hpp"

namespace brook::detail {

class Receiver {
 public:
  virtual ~Receiver() = default;
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  const std::string& port() const noexcept { return port_; }
  const ChannelSpec& channel() const noexcept { return *channel_; }
  const std::string& endpoint() const noexcept { return endpoint_; }
  // An observer (brook tap): takes best-effort copies and is never waited for.
  bool tap() const noexcept { return tap_; }
  const Limits& limits() const noexcept { return limits_; }
  ChannelCounters& counters() noexcept { return counters_; }
  Registration registration() const;
  zmq::socket_t& socket() noexcept { return socket_; }
  std::function<void(const Message&)>& handler() noexcept { return handler_; }
  HandlerTiming& handler_timing() noexcept { return handler_timing_; }

  // The monitor reporting failed accepts (the accept guard handles them) and, with CURVE,
  // handshakes that failed before the ZAP handler could judge them (no CURVE, wrong server key,
  // garbage, silence past the handshake interval), which on_monitor_event() counts as `refused`.
  void* monitor_socket() noexcept { return monitor_->handle(); }
  void on_monitor_event();
  // Stops listening for a while when accept() runs out of descriptors (AcceptGuard).
  AcceptGuard& accept_guard() noexcept { return accept_guard_; }

  enum class Received { kNothing, kMessage, kControl, kMalformed, kRefused };
  // Reads one message. kMessage: `body` holds the envelope frame and `peer` whom to acknowledge
  // (empty when nobody is). kControl: a protocol frame was taken care of. kMalformed: wrong
  // frame structure; `why` says what and `body` holds a frame of it. kRefused (a tap only): a
  // producer will not serve this tap; `why` says which and why.
  virtual Received receive(zmq::message_t& body, std::string& peer, std::string& why) = 0;

  // Before the first attempt at a message: false when it must not be handled (a duplicate, or
  // a producer the connection does not prove; counted and taken care of here). `frame` is the
  // envelope's frame, for what the transport says about its sender (address, CURVE user id).
  virtual bool admit(const EnvelopeView& /*env*/, const std::string& /*peer*/,
                     const zmq::message_t& /*frame*/) {
    return true;
  }

  // Whether a handled message must be settled: its producer keeps it until acknowledged.
  virtual bool acknowledges() const noexcept { return false; }
  enum class Settle { kAck, kDefer };
  // A message was handled (or failed for good): acknowledge it now, or later with release()
  // (its own output is not acknowledged downstream yet, or a retry owns it). A deferred message
  // is not handled again when re-sent meanwhile.
  virtual void settle(const MessageId& /*id*/, const std::string& /*peer*/, Settle /*how*/) {}
  virtual void release(const std::string& /*peer*/, std::string_view /*producer*/,
                       std::uint64_t /*seq*/) {}
  // A settled (deferred) message whose handling was undone — the state store's commit failed:
  // neither handled nor deferred any more, and not acknowledged, so its producer re-sends it.
  virtual void give_back(const MessageId& /*id*/, const std::string& /*peer*/) {}
  // What the state store's inbox says each producer's messages on this input were, handled by
  // an earlier incarnation (numbers ascending): their re-sends are recognised.
  virtual void seed_handled(
      const std::map<std::string, std::vector<std::uint64_t>, std::less<>>& /*handled*/) {}
  // Sends the acknowledgements settled so far (batched per producer).
  virtual void flush_acks() {}
  // When receive() has something to give without the socket being readable (messages it held
  // back); time_point::max() when not.
  virtual std::chrono::steady_clock::time_point next_wakeup() const noexcept {
    return std::chrono::steady_clock::time_point::max();
  }
  // The node is stopping: producers that hold messages for it until acknowledged are told to
  // send nothing new (docs/wire.md, "drain"), so it can settle what it has before it leaves.
  virtual void begin_drain() {}

  // An envelope naming another channel arrived from `peer`: its producer has a stale address
  // (this port was another channel's input, whose process died without unregistering). True
  // when the producer keeps the message — at-least-once: it is not acknowledged and the
  // connection is told to send nothing new (a drain frame), so its producer re-sends it when
  // that registration expires; false when it is lost (best-effort).
  virtual bool turn_away(const std::string& /*peer*/) { return false; }

  // Pubsub: the publishers the directory lists. waiting_for() names those that did not welcome
  // this instance yet (empty: every one did, or the receiver does not wait for welcomes).
  virtual void publisher_added(const DirectoryEntry& /*e*/) {}
  virtual void publisher_removed(const DirectoryEntry& /*e*/) {}
  virtual std::string waiting_for() const { return {}; }

 protected:
  // Binds at once; throws ZmqError if the host cannot be bound.
  Receiver(zmq::context_t& context, zmq::socket_type type, const PortSpec& port,
           const ChannelSpec& channel, const ListenAddress& listen, bool tap,
           std::chrono::milliseconds linger, ChannelCounters& counters, const Security& security);
  void bind(const ListenAddress& at);
  // A malformed multi-part message: reads the rest so the next receive starts a new message;
  // `body` ends as the last part. Returns the number of parts.
  std::size_t drain_parts(zmq::message_t& body, std::size_t parts);
  // For a tap: whether `frame` is a producer's tap refusal (docs/wire.md, "Taps"); `why` then
  // says who refused and what to do.
  // Inline: every message of a node's own inputs asks, and only a tap's look.
  bool refused_tap(const zmq::message_t& frame, std::string& why) const {
    return tap_ && tap_refusal(frame, why);
  }
  bool tap_refusal(const zmq::message_t& frame, std::string& why) const;

  std::string port_;
  const ChannelSpec* channel_;
  bool tap_;
  zmq::socket_t socket_;
  std::string endpoint_;
  Limits limits_;
  ChannelCounters& counters_;

 private:
  std::unique_ptr<SocketMonitor> monitor_;
  AcceptGuard accept_guard_;
  LogRateLimiter refused_log_;
  std::function<void(const Message&)> handler_;
  HandlerTiming handler_timing_;
};

// The receiver for `channel`'s delivery (a tap's takes copies best-effort). `own_id`: this
// instance's producer id, which pubsub welcomes are addressed to.
std::unique_ptr<Receiver> make_receiver(zmq::context_t& context, const PortSpec& port,
                                        const ChannelSpec& channel, const ListenAddress& listen,
                                        const std::string& own_id, bool tap,
                                        std::chrono::milliseconds linger, ChannelCounters& counters,
                                        const Security& security);

}  // namespace brook::detail
