// The asking side of a request channel, for one serving node: a ROUTER socket connected to the
// node's replicas (a routing id each, as ReliableSender), the requests sent and not answered
// yet, and their deadlines (docs/wire.md, "Request/reply").
//
// A request goes to the connected replica with the fewest outstanding requests, ties taken in
// turn; with none connected it waits for one until its deadline. A reply (an envelope whose
// `reply-to` header is the request's seq) completes it; so does its deadline, or its replica's
// disconnect or removal — unless the channel is idempotent, in which case the request goes to
// another replica (its handler may then run twice). Completions are queued and run by
// run_completions(), so a callback never runs inside a monitor event or a control-only pass.
//
// Bounds: at most channel.max_pending outstanding requests; send() throws BackpressureError
// beyond that. A malformed reply (wrong frame count, not an envelope, over max_message_size, no
// numeric reply-to) is counted in `decode_errors` and logged (rate-limited) with the address.
#pragma once

#include <brook/counters.hpp>
#include <brook/envelope_codec.hpp>
#include <brook/log.hpp>
#include <brook/topology.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "directory/directory_protocol.hpp"
#include "runtime/replica_set.hpp"
#include "security/security.hpp"

namespace brook::detail {

class RequestClient {
 public:
  using Clock = std::chrono::steady_clock;
  // Exactly once per request: `reply` is the reply's envelope (valid during the call), or null
  // with `error` saying why there is none (the server's reply-error, a timeout, a lost replica).
  using DoneFn = std::function<void(const EnvelopeView* reply, std::string_view error)>;

  // `node`: the serving node; `security` and `counters` (the channel's) must outlive it.
  RequestClient(zmq::context_t& context, const ChannelSpec& channel, std::string node,
                std::chrono::milliseconds linger, ChannelCounters& counters,
                const Security& security);
  RequestClient(const RequestClient&) = delete;
  RequestClient& operator=(const RequestClient&) = delete;

  const std::string& node() const noexcept { return replicas_.node(); }
  zmq::socket_t& socket() noexcept { return socket_; }
  void* monitor_socket() noexcept { return replicas_.monitor_socket(); }
  std::size_t known_replicas() const noexcept { return replicas_.known(); }
  std::size_t connected_replicas() const noexcept { return replicas_.connected(); }
  std::size_t outstanding() const noexcept { return pending_.size(); }

  void add_replica(const DirectoryEntry& e) { (void)replicas_.add(e); }
  void remove_replica(const DirectoryEntry& e);
  // Reads the monitor: a handshake sends what waits for a replica, a disconnect fails (or
  // re-sends) what that replica holds.
  void on_monitor_event();

  // Sends the request envelope `frame` whose seq is `seq` (unique among outstanding ones) now,
  // or keeps it until a replica connects; `done` is called once when it completes. Throws
  // BackpressureError when max_pending requests are outstanding.
  void send(std::uint64_t seq, zmq::message_t frame, Clock::time_point deadline, DoneFn done);

  // Reads the replies that arrived (the socket is readable).
  void on_readable();
  // When tick() is next needed; now or earlier when completions wait.
  Clock::time_point next_wakeup() const noexcept;
  // Fails the requests whose deadline passed.
  void tick(Clock::time_point now);
  // Runs the queued completions' callbacks (which may send new requests).
  void run_completions();
  // Completes every outstanding request with `why` (queued like the others).
  void fail_all(const std::string& why);

 private:
  struct Pending {
    zmq::message_t frame;  // kept to send when a replica connects, or again (idempotent)
    Clock::time_point deadline;
    std::uint32_t replica = 0;  // 0: not sent yet
    std::string replica_name;
    DoneFn done;
  };
  struct Completion {
    DoneFn done;
    zmq::message_t reply;  // empty: failed with `error`
    std::string error;
  };

  bool try_send(Pending& p);
  void send_waiting();
  void replica_gone(Replica& r, const char* how);
  void complete(std::map<std::uint64_t, Pending>::iterator it, zmq::message_t reply,
                std::string error);
  void read_reply(zmq::message_t& frame);
  void malformed(const zmq::message_t& frame, const std::string& why);

  const ChannelSpec* channel_;
  ChannelCounters& counters_;
  zmq::socket_t socket_;
  ReplicaSet replicas_;
  std::map<std::uint64_t, Pending> pending_;                         // by request seq
  std::set<std::pair<Clock::time_point, std::uint64_t>> deadlines_;  // of pending_
  std::deque<Completion> completions_;
  std::vector<Replica*> candidates_;
  std::uint32_t turn_ = 0;
  Limits limits_;
  LogRateLimiter decode_log_;
};

}  // namespace brook::detail
