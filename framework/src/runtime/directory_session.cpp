#include "runtime/directory_session.hpp"

#include <algorithm>
#include <brook/envelope_codec.hpp>
#include <brook/ids.hpp>
#include <brook/log.hpp>
#include <set>

#include "runtime/socket_setup.hpp"

namespace brook::detail {

namespace {
using namespace std::chrono_literals;
constexpr auto kHelloRetry = 500ms;
constexpr auto kConnectRetry = 10ms;
constexpr auto kRequestTimeout = 1500ms;
// Silence for this long gets the request socket a new connection: libzmq gives up on a
// connection for good after a protocol error (an oversized reply, say), and would leave the
// session talking to nobody.
constexpr auto kReconnectAfter = 3 * kRequestTimeout;
constexpr auto kRetry = 100ms;  // a snapshot request the DEALER could not send yet
constexpr std::size_t kMaxBuffered = 100000;
}  // namespace

const std::string& process_token() {
  // Two draws of 64 bits from the OS random source; made once, so every directory and every
  // re-registration sees the same token.
  static const std::string token = random_id() + random_id();
  return token;
}

DirectorySession::DirectorySession(zmq::context_t& context, const Security& security,
                                   std::string endpoint, InstanceIdentity identity,
                                   std::vector<Registration> registrations,
                                   std::chrono::milliseconds ttl,
                                   std::chrono::milliseconds heartbeat, Listener& listener)
    : dealer_(context, zmq::socket_type::dealer),
      sub_(context, zmq::socket_type::sub),
      endpoint_(std::move(endpoint)),
      identity_(std::move(identity)),
      registrations_(std::move(registrations)),
      ttl_(ttl),
      heartbeat_(heartbeat),
      listener_(listener) {
  // IMMEDIATE: while the directory is down, requests fail at once instead of queueing stale
  // heartbeats that would all arrive when it comes back.
  dealer_.set(zmq::sockopt::immediate, 1);
  dealer_.set(zmq::sockopt::linger, 0);
  dealer_.set(zmq::sockopt::sndhwm, 100);
  dealer_.set(zmq::sockopt::reconnect_ivl, 100);
  dealer_.set(zmq::sockopt::reconnect_ivl_max, 500);
  dealer_.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(kMaxDirectoryFrame));
  sub_.set(zmq::sockopt::linger, 0);
  sub_.set(zmq::sockopt::rcvhwm, 100000);
  sub_.set(zmq::sockopt::reconnect_ivl, 100);
  sub_.set(zmq::sockopt::reconnect_ivl_max, 500);
  sub_.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(kMaxDirectoryFrame));
  // Only our channels' updates (and the ticks): a node does not pay for every change of a large
  // topology, and its mirror holds only the entries it uses.
  sub_.set(zmq::sockopt::subscribe, kTickKind);
  for (const auto& reg : registrations_) {
    if (!watched_.insert(reg.channel).second) continue;
    sub_.set(zmq::sockopt::subscribe, update_topic(identity_.topology, reg.channel));
    sub_.set(zmq::sockopt::subscribe, mark_topic(identity_.topology, reg.channel));
  }
  // Both connect to the directory's sockets, which hold its key; a bad allowlist fails here,
  // at start, with the file to fix.
  security.configure_client(dealer_, kDirectoryIdentity);
  security.configure_client(sub_, kDirectoryIdentity);
  dealer_.connect(endpoint_);
  next_wakeup_ = Clock::now();
  last_reconnect_ = next_wakeup_;
}

void DirectorySession::reconnect(Clock::time_point now) {
  last_reconnect_ = now;
  try {
    dealer_.disconnect(endpoint_);
  } catch (const zmq::error_t&) {
    // libzmq already dropped the connection; connecting again is all that is needed.
  }
  dealer_.connect(endpoint_);
  // Whatever was in flight went with the old connection.
  outstanding_.clear();
  snapshot_in_flight_ = false;
  BROOK_LOG(kDebug)
      << "directory " << endpoint_ << " silent for "
      << std::chrono::duration_cast<std::chrono::milliseconds>(kReconnectAfter).count()
      << " ms; connecting again";
}

std::string DirectorySession::key_of(const DirectoryEntry& e) {
  std::string k = e.node;
  k += '.';
  k += std::to_string(e.instance);
  k += '@';
  k += e.incarnation;
  k += '|';
  k += e.reg.channel;
  k += '|';
  k += to_string(e.reg.direction);
  k += '|';
  k += e.reg.endpoint;
  k += '|';
  k += e.reg.port;
  return k;
}

bool DirectorySession::send(DirectoryRequestBody body, Clock::time_point now) {
  const std::uint64_t id = next_id_++;
  last_attempt_ = now;
  const Pending pending{body.index(), op_name(body), now};
  const std::string bytes = encode(DirectoryRequest{id, std::move(body)});
  const auto sent = dealer_.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
  if (!sent) return false;  // not connected (IMMEDIATE): retried on a later tick
  outstanding_[id] = pending;
  return true;
}

void DirectorySession::send_hello(Clock::time_point now) {
  // Not sent means the connection is not up yet (IMMEDIATE): try again almost at once, so a new
  // node joins within milliseconds of the directory being reachable.
  next_hello_ = now + (send(HelloRequest{true}, now) ? kHelloRetry : kConnectRetry);
}

void DirectorySession::send_register(Clock::time_point now) {
  RegisterRequest r;
  r.node = identity_.node;
  r.instance = identity_.instance;
  r.incarnation = identity_.incarnation;
  r.host = identity_.host;
  r.pid = identity_.pid;
  r.lease_ms = static_cast<std::uint32_t>(ttl_.count());
  r.registrations = registrations_;
  r.topology = identity_.topology;
  r.token = identity_.token;
  r.push = push_;
  phase_ = Phase::kRegistering;
  next_hello_ = now + kRequestTimeout;  // if no ack by then, start over with hello
  (void)send(std::move(r), now);
}

void DirectorySession::reachable(bool yes) {
  if (yes == reachable_) return;
  reachable_ = yes;
  if (yes) {
    BROOK_LOG(kInfo) << "directory " << endpoint_ << " reachable again";
  } else {
    BROOK_LOG(kWarn) << "directory " << endpoint_
                     << " not answering; established channels keep flowing, retrying";
  }
}

void DirectorySession::tick(Clock::time_point now) {
  expire_requests(now);
  if (unregister_sent_) {
    if (now >= unregister_deadline_) unregister_done_ = true;
    watch_while_stopping(now);
    return;
  }
  // Only silence while asking counts: an idle session with a long heartbeat is not cut off.
  const auto heard = std::max(last_reply_, last_reconnect_);
  if (last_attempt_ > heard && now - heard > kReconnectAfter) reconnect(now);
  tick_phase(now);
  if (phase_ != Phase::kHello && needs_snapshot_ && !snapshot_in_flight_ && !epoch_.empty()) {
    snapshot_in_flight_ = send(snapshot_request(), now);
  }
  plan_wakeup(now);
}

void DirectorySession::watch_while_stopping(Clock::time_point now) {
  // A stopping node still delivers what its outputs hold, so it must keep following its
  // consumers: a consumer restarted meanwhile listens on a new port, and a directory restarted
  // meanwhile publishes changes on a new port that only a hello tells. Without registering or
  // heartbeating, a snapshot once per heartbeat period sees a new epoch (epoch_seen: hello,
  // then a fresh snapshot) and brings the entries up to date.
  if (phase_ == Phase::kHello) {
    if (now >= next_hello_) send_hello(now);
  } else if (!snapshot_in_flight_ && now >= next_watch_) {
    snapshot_in_flight_ = send(snapshot_request(), now);
    next_watch_ = now + heartbeat_;
  }
  next_wakeup_ =
      std::min(phase_ == Phase::kHello ? next_hello_ : next_watch_, now + kRequestTimeout);
  if (!unregister_done_) next_wakeup_ = std::min(next_wakeup_, unregister_deadline_);
}

void DirectorySession::expire_requests(Clock::time_point now) {
  // Requests unanswered for too long: the directory is down or restarted.
  bool timed_out = false;
  for (auto it = outstanding_.begin(); it != outstanding_.end();) {
    if (now - it->second.sent > kRequestTimeout) {
      if (it->second.op == op_of<SnapshotRequest>) snapshot_in_flight_ = false;
      it = outstanding_.erase(it);
      timed_out = true;
    } else {
      ++it;
    }
  }
  if (timed_out && now - last_reply_ > kRequestTimeout) reachable(false);
}

void DirectorySession::tick_phase(Clock::time_point now) {
  switch (phase_) {
    case Phase::kHello:
    case Phase::kRegistering:
      if (now >= next_hello_) {
        phase_ = Phase::kHello;
        send_hello(now);
      }
      break;
    case Phase::kRegistered:
      if (now >= next_heartbeat_) {
        next_heartbeat_ = now + heartbeat_;
        (void)send(
            HeartbeatRequest{identity_.node, identity_.instance, identity_.incarnation,
                             listener_.heartbeat_counters(), identity_.topology, identity_.token},
            now);
      }
      break;
    case Phase::kGaveUp:
      break;
  }
}

void DirectorySession::plan_wakeup(Clock::time_point now) {
  // Sleep until something is due, so an idle node wakes once per heartbeat: the next hello or
  // heartbeat, the first request to time out, a snapshot that could not be sent.
  next_wakeup_ = now + kRequestTimeout;
  if (const auto heard = std::max(last_reply_, last_reconnect_); last_attempt_ > heard) {
    next_wakeup_ = std::min(next_wakeup_, heard + kReconnectAfter + 1ms);
  }
  if (phase_ == Phase::kRegistered) next_wakeup_ = std::min(next_wakeup_, next_heartbeat_);
  if (phase_ == Phase::kHello || phase_ == Phase::kRegistering) {
    next_wakeup_ = std::min(next_wakeup_, next_hello_);
  }
  for (const auto& [id, pending] : outstanding_) {
    next_wakeup_ = std::min(next_wakeup_, pending.sent + kRequestTimeout + 1ms);
  }
  if (needs_snapshot_ && !snapshot_in_flight_) next_wakeup_ = std::min(next_wakeup_, now + kRetry);
}

void DirectorySession::on_request_readable() {
  for (int i = 0; i < 100; ++i) {
    zmq::message_t frame;
    if (!dealer_.recv(frame, zmq::recv_flags::dontwait)) return;
    if (frame.more()) {
      // Two frames: a change the directory pushes on this connection (a topic, then the body,
      // as on its PUB). Anything longer is not from a directory.
      zmq::message_t body;
      (void)dealer_.recv(body, zmq::recv_flags::none);
      bool junk = false;
      for (bool more = body.more(); more;) {
        zmq::message_t extra;
        (void)dealer_.recv(extra, zmq::recv_flags::none);
        more = extra.more();
        junk = true;
      }
      if (!junk) handle_watch_message(frame, body);
      continue;
    }
    DirectoryReply reply;
    auto st = decode(bytes_of(frame), reply);
    if (!st) {
      BROOK_LOG(kWarn) << "ignoring malformed reply from directory " << endpoint_ << ": "
                       << st.error;
      continue;
    }
    handle_reply(reply, Clock::now());
    next_wakeup_ = {};  // a reply moves deadlines (heartbeat, hello): tick at once to re-plan
  }
}

void DirectorySession::handle_reply(const DirectoryReply& reply, Clock::time_point now) {
  auto it = outstanding_.find(reply.id);
  if (it == outstanding_.end()) return;  // answer to a request we already gave up on
  const Pending sent = it->second;
  outstanding_.erase(it);
  last_reply_ = now;
  reachable(true);

  if (const auto* err = std::get_if<ErrorReply>(&reply.body)) {
    handle_error(sent, *err, now);
  } else if (const auto* hello = std::get_if<HelloReply>(&reply.body)) {
    handle_hello(*hello, now);
  } else if (const auto* ack = std::get_if<AckReply>(&reply.body)) {
    handle_ack(sent, *ack, now);
  } else if (const auto* entries = std::get_if<EntriesReply>(&reply.body)) {
    snapshot_in_flight_ = false;
    if (entries->state.epoch != epoch_) {
      epoch_seen(entries->state.epoch, now);
      return;
    }
    handle_entries(*entries);
  }
}

void DirectorySession::handle_error(const Pending& sent, const ErrorReply& err,
                                    Clock::time_point now) {
  if (sent.op == op_of<SnapshotRequest>) snapshot_in_flight_ = false;
  if (sent.op == op_of<UnregisterRequest>) {
    unregister_done_ = true;
    return;
  }
  switch (err.code) {
    case DirectoryErrc::kUnknownInstance:
      // The directory forgot us (restart, or our lease expired while we were stalled).
      BROOK_LOG(kInfo) << "directory " << endpoint_ << " does not know this instance; "
                       << "registering again";
      send_register(now);
      break;
    case DirectoryErrc::kStaleIncarnation:
      name_taken(err.detail, now);
      break;
    default:
      BROOK_LOG(kError) << "directory " << endpoint_ << " refused " << sent.name << ": "
                        << to_string(err.code) << ": " << err.detail;
      if (sent.op == op_of<RegisterRequest>) {
        phase_ = Phase::kHello;
        next_hello_ = now + 5s;  // a refused registration will not fix itself quickly
      }
      break;
  }
}

void DirectorySession::name_taken(const std::string& detail, Clock::time_point now) {
  // Another live process holds this instance: a second process started with the same
  // --instance, or a restart of ours racing the old lease. The directory hands the name over
  // once that lease lapses, so keep asking; a name still taken after several leases belongs to
  // a process that is alive, and this one ends so its restart policy and `brook up` see it.
  const auto limit = std::max<Clock::duration>(3 * ttl_, 5s);
  if (!taken_since_) {
    taken_since_ = now;
    BROOK_LOG(kWarn) << "directory " << endpoint_ << ": " << detail
                     << "; retrying until its lease lapses (giving up after "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(limit).count()
                     << " ms)";
  }
  if (now - *taken_since_ >= limit) {
    phase_ = Phase::kGaveUp;
    listener_.name_taken(
        identity_.node + "." + std::to_string(identity_.instance) +
        " is still registered by another process at " + endpoint_ + " after " +
        std::to_string(
            std::chrono::duration_cast<std::chrono::milliseconds>(now - *taken_since_).count()) +
        " ms (" + detail + "); give each process its own --instance, or stop the other one");
    return;
  }
  phase_ = Phase::kHello;
  next_hello_ = now + heartbeat_;
}

void DirectorySession::handle_ack(const Pending& sent, const AckReply& ack, Clock::time_point now) {
  if (ack.state.epoch != epoch_) {
    epoch_seen(ack.state.epoch, now);
    return;
  }
  if (sent.op == op_of<UnregisterRequest>) {
    unregister_done_ = true;
    return;
  }
  if (sent.op != op_of<RegisterRequest>) return;
  if (phase_ != Phase::kRegistered) {
    if (ever_registered_) {
      BROOK_LOG(kInfo) << "re-registered with directory " << endpoint_ << " (epoch " << epoch_
                       << ")";
    } else {
      BROOK_LOG(kDebug) << "registered with directory " << endpoint_;
    }
  }
  if (taken_since_) {
    BROOK_LOG(kInfo) << "the other process's lease lapsed; registered with directory " << endpoint_;
    taken_since_.reset();
  }
  phase_ = Phase::kRegistered;
  ever_registered_ = true;
  next_heartbeat_ = now + heartbeat_;
  listener_.registered(endpoint_);
}

void DirectorySession::epoch_seen(const std::string& epoch, Clock::time_point now) {
  if (epoch == epoch_ || phase_ == Phase::kHello) return;
  // The directory restarted behind our back: start over with hello to learn the new PUB port.
  phase_ = Phase::kHello;
  send_hello(now);
  next_wakeup_ = {};
}

void DirectorySession::handle_hello(const HelloReply& r, Clock::time_point now) {
  if (r.state.epoch != epoch_) {
    if (!epoch_.empty()) {
      BROOK_LOG(kInfo) << "directory " << endpoint_ << " restarted (epoch " << epoch_ << " -> "
                       << r.state.epoch << "); "
                       << (unregister_sent_ ? "following it while stopping" : "registering again")
                       << ", keeping " << entries_.size() << " known entries until it settles";
      full_reconcile_pending_ = true;
    }
    epoch_ = r.state.epoch;
    have_snapshot_ = false;
    needs_snapshot_ = true;
    channel_seq_.clear();
    buffered_.clear();
  }
  // A directory that pushes our changes on this connection spares it (and us) a connection to
  // its PUB; one before push (or a stopping node, which no longer registers) is followed there.
  push_ = r.push && !unregister_sent_;
  if (const std::string want = push_ ? std::string() : r.pub_endpoint; want != pub_endpoint_) {
    if (!pub_endpoint_.empty()) {
      try {
        sub_.disconnect(pub_endpoint_);
      } catch (const zmq::error_t&) {
        // Already gone; nothing to undo.
      }
    }
    pub_endpoint_ = want;
    if (!pub_endpoint_.empty()) sub_.connect(pub_endpoint_);
  }
  if (unregister_sent_) {
    phase_ = Phase::kRegistered;  // only watching (watch_while_stopping): not registering again
  } else {
    send_register(now);
  }
  if (needs_snapshot_ && !snapshot_in_flight_) snapshot_in_flight_ = send(snapshot_request(), now);
}

void DirectorySession::handle_entries(const EntriesReply& r) {
  // Before the directory has settled an absent entry may just not have re-registered yet, so
  // only additions are trusted; removal by absence waits for a settled snapshot.
  const bool trust_absence = r.state.settled || !full_reconcile_pending_;
  std::set<std::string> present;
  for (const auto& e : r.entries) {
    present.insert(key_of(e));
    add_entry(e);
  }
  if (trust_absence) {
    std::vector<DirectoryEntry> gone;
    for (const auto& [k, e] : entries_) {
      if (!present.count(k)) gone.push_back(e);
    }
    for (const auto& e : gone)
      remove_entry(e);
    full_reconcile_pending_ = false;
  }
  for (const auto& c : watched_) {
    auto it = r.channel_seq.find(c);
    channel_seq_[c] = it == r.channel_seq.end() ? 0 : it->second;
  }
  have_snapshot_ = true;
  needs_snapshot_ = false;
  std::vector<DirectoryUpdate> pending;
  pending.swap(buffered_);
  std::sort(pending.begin(), pending.end(),
            [](const DirectoryUpdate& a, const DirectoryUpdate& b) { return a.seq < b.seq; });
  for (const auto& u : pending)
    handle_update(u);
}

void DirectorySession::on_watch_readable() {
  for (int i = 0; i < 1000; ++i) {
    zmq::message_t kind;
    if (!sub_.recv(kind, zmq::recv_flags::dontwait)) return;
    if (!kind.more()) continue;
    zmq::message_t body;
    (void)sub_.recv(body, zmq::recv_flags::none);
    while (body.more()) {
      zmq::message_t extra;
      (void)sub_.recv(extra, zmq::recv_flags::none);
      if (!extra.more()) break;
    }
    handle_watch_message(kind, body);
  }
}

void DirectorySession::handle_watch_message(const zmq::message_t& kind,
                                            const zmq::message_t& body) {
  const std::string_view k(static_cast<const char*>(kind.data()), kind.size());
  if (is_update_topic(k)) {
    DirectoryUpdate u;
    if (decode(bytes_of(body), u)) {
      if (u.epoch == epoch_) handle_update(u);
    } else {
      BROOK_LOG(kWarn) << "ignoring malformed update from directory " << endpoint_;
    }
  } else if (is_mark_topic(k)) {
    DirectoryMark m;
    if (decode(bytes_of(body), m) && m.epoch == epoch_) handle_mark(m);
  } else if (k == kTickKind) {
    DirectoryTick t;
    if (decode(bytes_of(body), t)) handle_tick(t, Clock::now());
  }
}

void DirectorySession::handle_update(const DirectoryUpdate& u) {
  // A topic is a prefix match, and a directory may publish channels we never asked for.
  if (u.entry.topology != identity_.topology || !watched_.count(u.entry.reg.channel)) return;
  if (!have_snapshot_) {
    if (buffered_.size() < kMaxBuffered) {
      buffered_.push_back(u);
    } else {
      buffered_.clear();  // the snapshot will cover it
    }
    return;
  }
  std::uint64_t& last = channel_seq_[u.entry.reg.channel];
  if (u.seq <= last) return;  // covered by the snapshot, or seen already
  if (u.prev != last) {
    // Missed an update of this channel (PUB dropped it or we connected late): take a snapshot.
    needs_snapshot_ = true;
    have_snapshot_ = false;
    next_wakeup_ = {};  // tick at once: it sends the snapshot request
    buffered_.push_back(u);
    return;
  }
  last = u.seq;
  apply(u);
}

void DirectorySession::handle_tick(const DirectoryTick& t, Clock::time_point now) {
  if (t.state.epoch != epoch_) {
    if (!epoch_.empty()) epoch_seen(t.state.epoch, now);
    return;
  }
  if (full_reconcile_pending_ && t.state.settled) {
    needs_snapshot_ = true;
    next_wakeup_ = {};
  }
}

void DirectorySession::handle_mark(const DirectoryMark& m) {
  // Updates and marks share one PUB socket, so a mark arrives after every update it counts: a
  // channel of ours that it shows further along than we are lost an update on the way.
  if (!have_snapshot_ || m.topology != identity_.topology) return;
  auto it = channel_seq_.find(m.channel);
  if (it == channel_seq_.end() || m.seq <= it->second) return;  // not ours, or nothing new
  needs_snapshot_ = true;
  next_wakeup_ = {};
}

SnapshotRequest DirectorySession::snapshot_request() const {
  return SnapshotRequest{std::vector<std::string>(watched_.begin(), watched_.end()),
                         identity_.topology};
}

void DirectorySession::apply(const DirectoryUpdate& u) {
  if (u.op == ChangeOp::kAdd) {
    add_entry(u.entry);
  } else {
    remove_entry(u.entry);
  }
}

void DirectorySession::add_entry(const DirectoryEntry& e) {
  auto [it, inserted] = entries_.emplace(key_of(e), e);
  if (inserted) listener_.entry_added(e);
}

void DirectorySession::remove_entry(const DirectoryEntry& e) {
  auto it = entries_.find(key_of(e));
  if (it == entries_.end()) return;
  const DirectoryEntry copy = it->second;
  entries_.erase(it);
  listener_.entry_removed(copy);
}

void DirectorySession::begin_unregister() {
  if (unregister_sent_) return;
  unregister_sent_ = true;
  const auto now = Clock::now();
  unregister_deadline_ = now + 500ms;
  next_watch_ = now + heartbeat_;
  next_wakeup_ = {};
  if (phase_ != Phase::kRegistered && phase_ != Phase::kRegistering) {
    unregister_done_ = true;
    return;
  }
  if (!send(UnregisterRequest{identity_.node, identity_.instance, identity_.incarnation,
                              identity_.topology, identity_.token},
            now)) {
    unregister_done_ = true;  // directory unreachable: the lease will expire on its own
  }
}

}  // namespace brook::detail
