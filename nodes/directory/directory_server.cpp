#include "directory_server.hpp"

#include <algorithm>
#include <brook/envelope_codec.hpp>
#include <brook/error.hpp>
#include <brook/ids.hpp>
#include <brook/log.hpp>

#include "runtime/reactor.hpp"
#include "runtime/socket_setup.hpp"
#include "util/sd_notify.hpp"

namespace brook {

namespace {

using Clock = DirectoryRegistry::Clock;

// Lateness of a loop turn past its tick that is still ordinary scheduling noise.
constexpr auto kStallGrace = std::chrono::milliseconds(200);

std::string host_of(const std::string& endpoint) {
  // tcp://host:port -> host ("*" for wildcard binds stays as is).
  const auto scheme = endpoint.find("://");
  const auto colon = endpoint.rfind(':');
  if (scheme == std::string::npos || colon == std::string::npos || colon <= scheme + 3) {
    return "127.0.0.1";
  }
  return endpoint.substr(scheme + 3, colon - scheme - 3);
}

// The remote address of a TCP peer, from the message's metadata.
std::string peer_address(const zmq::message_t& m) {
  const char* v = zmq_msg_gets(const_cast<zmq_msg_t*>(m.handle()), "Peer-Address");
  return v != nullptr ? v : "unknown peer";
}

std::string bind_socket(zmq::socket_t& s, const std::string& endpoint, const char* what) {
  try {
    s.bind(endpoint);
  } catch (const zmq::error_t& e) {
    throw ZmqError(
        e.num(), std::string("cannot bind ") + what + " to " + endpoint +
                     " (is another directory running there? use another endpoint: brook-directory "
                     "--bind, or directory.endpoints in the topology for brook up)");
  }
  return s.get(zmq::sockopt::last_endpoint);
}

}  // namespace

DirectoryServer::DirectoryServer(DirectoryServerOptions options)
    : options_(std::move(options)),
      epoch_(random_id()),
      router_(context_, zmq::socket_type::router),
      pub_(context_, zmq::socket_type::pub),
      registry_(options_.config, epoch_, Clock::now()) {
  for (auto* s : {&router_, &pub_}) {
    s->set(zmq::sockopt::linger, 0);
    // Every node of a topology connects here as it starts, many at a time under brook up.
    s->set(zmq::sockopt::backlog, detail::kListenBacklog);
  }
  router_.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(kMaxDirectoryFrame));
  // Watchers send only subscriptions here; a huge one is garbage.
  pub_.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(4096));
  router_.set(zmq::sockopt::sndhwm, 10000);
  router_.set(zmq::sockopt::rcvhwm, 10000);
  // Watchers that fall behind lose updates here; they notice the seq gap and take a snapshot.
  pub_.set(zmq::sockopt::sndhwm, 100000);
  if (options_.security.curve()) {
    // Bound before the sockets that need it: a CURVE server without a handler admits anyone.
    zap_ = std::make_unique<ZapHandler>(
        context_, options_.security,
        [this](const ZapRequest&, const ZapVerdict&) { ++stats_.refused; });
  }
  options_.security.configure_server(router_, std::string(kDirectoryIdentity));
  if (zap_) {
    // Handshakes that fail before the ZAP handler (no CURVE, a wrong server key, garbage,
    // silence) are refusals too; libzmq reports them on a monitor, with our endpoint only.
    const std::string address = "inproc://brook-directory-monitor-" + epoch_;
    if (zmq_socket_monitor(
            router_.handle(), address.c_str(),
            ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0) {
      throw ZmqError(zmq_errno(), "zmq_socket_monitor on the directory ROUTER");
    }
    monitor_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::pair);
    monitor_->set(zmq::sockopt::linger, 0);
    monitor_->connect(address);
  }
  options_.security.configure_server(pub_, std::string(kDirectoryIdentity));
  endpoint_ = bind_socket(router_, options_.bind, "the directory ROUTER");
  std::string pub_bind = options_.pub_bind;
  if (pub_bind.empty()) pub_bind = "tcp://" + host_of(endpoint_) + ":*";
  pub_endpoint_ = bind_socket(pub_, pub_bind, "the directory PUB");
  options_.config.pub_endpoint = pub_endpoint_;
  registry_.set_pub_endpoint(pub_endpoint_);
}

void DirectoryServer::run(StopSignal& stop) {
  BROOK_LOG(kInfo) << "directory " << epoch_ << " serving " << endpoint_ << ", changes on "
                   << pub_endpoint_ << (zap_ ? " with CURVE" : "") << " (ttl "
                   << options_.config.default_ttl.count() << " ms, heartbeat "
                   << options_.config.heartbeat.count() << " ms)";
  detail::Reactor reactor;
  reactor.add_fd(stop.fd(), ZMQ_POLLIN, [&](short) { stop.consume(); });
  if (zap_) reactor.add_socket(zap_->socket(), ZMQ_POLLIN, [this](short) { zap_->process(); });
  if (monitor_) reactor.add_socket(*monitor_, ZMQ_POLLIN, [this](short) { handshake_failures(); });
  if (options_.snapshots) publish_snapshot(Clock::now());  // /health answers from the start
  reactor.add_socket(router_, ZMQ_POLLIN, [this](short) { serve_requests(); });
  reactor.add_timer(Clock::now(), options_.tick, true, [this] { publish_tick(); });
  reactor.add_source([this] { return lease_wakeup(); },
                     [this](Clock::time_point now) { expire_leases(now); });
  // The systemd watchdog and the health file say the loop still turns (docs/deploy.md).
  Liveness liveness(options_.config.heartbeat);
  if (liveness.active()) {
    reactor.add_source([&liveness] { return liveness.next_wakeup(); },
                       [&liveness](Clock::time_point now) { liveness.tick(now, "ready"); });
  }
  while (!stop.requested())
    reactor.run_once(Clock::time_point::max());
  notify_stopping(stop.reason());
  BROOK_LOG(kInfo) << "directory stopping (" << stop.reason() << "): " << stats_.requests
                   << " requests, " << stats_.bad_requests << " bad, " << stats_.denied
                   << " denied, " << stats_.refused << " connections refused, "
                   << registry_.instance_count() << " instances registered";
}

Clock::time_point DirectoryServer::lease_wakeup() const {
  // Just after the earliest lease runs out: expire() takes leases that ran out before `now`.
  const auto expiry = registry_.next_expiry();
  return expiry == Clock::time_point::max() ? expiry : expiry + std::chrono::milliseconds(1);
}

void DirectoryServer::expire_leases(Clock::time_point now) {
  // Heartbeats sent while the directory was stopped wait in its socket queues; expiring before
  // reading them would drop every node at once. Give the leases the stalled time back instead.
  const auto stall = last_turn_ == Clock::time_point{} ? Clock::duration::zero()
                                                       : now - last_turn_ - options_.tick;
  last_turn_ = now;
  if (stall > kStallGrace) {
    registry_.extend_leases(stall, now);
    static LogRateLimiter limiter;
    std::uint64_t suppressed = 0;
    if (limiter.allow(suppressed)) {
      BROOK_LOG(kWarn) << "the directory did not run for "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(stall).count()
                       << " ms (stopped, paused or starved of CPU); every lease is extended by "
                          "that long so no live node expires for it"
                       << (suppressed > 0 ? " (" + std::to_string(suppressed) + " not logged)"
                                          : "");
    }
  }
  changes_.clear();
  registry_.expire(now, changes_);
  // One line per instance, rate limited: a flood of short-lived registrations must not become a
  // flood of log lines when their leases run out.
  static LogRateLimiter limiter;
  const DirectoryEntry* last = nullptr;
  for (const auto& c : changes_) {
    if (last != nullptr && last->node == c.entry.node && last->instance == c.entry.instance) {
      continue;
    }
    last = &c.entry;
    std::uint64_t suppressed = 0;
    if (limiter.allow(suppressed)) {
      BROOK_LOG(kInfo) << "lease expired: " << c.entry.instance_name()
                       << (suppressed > 0
                               ? " (" + std::to_string(suppressed) + " more expiries not logged)"
                               : "");
    }
  }
  publish(changes_);
}

void DirectoryServer::serve_requests() {
  // Bounded batch so expiry and ticks keep their schedule under a request flood.
  for (int i = 0; i < 1000; ++i) {
    zmq::message_t identity;
    if (!router_.recv(identity, zmq::recv_flags::dontwait)) return;
    zmq::message_t body;
    bool extra_frames = false;
    if (identity.more()) {
      (void)router_.recv(body, zmq::recv_flags::none);
      // Frames after the body come from a non-brook peer; read them all to stay in sync.
      bool more = body.more();
      while (more) {
        zmq::message_t junk;
        (void)router_.recv(junk, zmq::recv_flags::none);
        more = junk.more();
        extra_frames = true;
      }
    }
    handle(identity, body, extra_frames);
  }
}

void DirectoryServer::handle(zmq::message_t& identity, zmq::message_t& body, bool extra_frames) {
  ++stats_.requests;
  DirectoryRequest request;
  ProtocolStatus status;
  if (extra_frames) {
    status = ProtocolStatus::failure("expected exactly one frame after the routing id");
  } else {
    status = decode({static_cast<const std::byte*>(body.data()), body.size()}, request);
  }
  if (!status) {
    ++stats_.bad_requests;
    static LogRateLimiter limiter;
    std::uint64_t suppressed = 0;
    if (limiter.allow(suppressed)) {
      BROOK_LOG(kWarn) << "bad request from " << peer_address(body) << ": " << status.error << " ("
                       << stats_.bad_requests << " bad so far"
                       << (suppressed > 0 ? ", " + std::to_string(suppressed) + " not logged" : "")
                       << ")";
    }
    reply(identity, DirectoryReply{request.id, ErrorReply{status.code, status.error}});
    return;
  }
  if (zap_) {
    const char* user = zmq_msg_gets(body.handle(), "User-Id");
    const std::string denied =
        authorize(request.body, user != nullptr ? user : "", options_.declared);
    if (!denied.empty()) {
      ++stats_.denied;
      static LogRateLimiter limiter;
      std::uint64_t suppressed = 0;
      if (limiter.allow(suppressed)) {
        BROOK_LOG(kWarn) << "denied a request from " << peer_address(body) << ": " << denied
                         << (suppressed > 0 ? " (" + std::to_string(suppressed) + " not logged)"
                                            : "");
      }
      reply(identity, DirectoryReply{request.id, ErrorReply{DirectoryErrc::kDenied, denied}});
      return;
    }
  }
  changes_.clear();
  auto result = registry_.handle(request.body, Clock::now(), changes_,
                                 {static_cast<const char*>(identity.data()), identity.size()});
  if (const auto* reg = std::get_if<RegisterRequest>(&request.body)) {
    if (std::holds_alternative<AckReply>(result)) {
      BROOK_LOG(kDebug) << "registered " << scoped_name(reg->topology, reg->node) << "."
                        << reg->instance << " (" << reg->registrations.size() << " ports, pid "
                        << reg->pid << ")";
    } else if (const auto* err = std::get_if<ErrorReply>(&result)) {
      static LogRateLimiter limiter;
      std::uint64_t suppressed = 0;
      if (limiter.allow(suppressed)) {
        BROOK_LOG(kWarn) << "refused a registration from " << peer_address(body) << ": "
                         << to_string(err->code) << ": " << err->detail
                         << (suppressed > 0 ? " (" + std::to_string(suppressed) + " not logged)"
                                            : "");
      }
    }
  }
  reply(identity, DirectoryReply{request.id, std::move(result)});
  publish(changes_);
}

void DirectoryServer::reply(zmq::message_t& identity, const DirectoryReply& r) {
  std::string bytes = encode(r);
  if (bytes.size() > kMaxDirectoryFrame) {
    // The registry's limits keep replies smaller; should one still be too large, the client gets
    // an error it can read rather than a frame its socket would take as a protocol violation
    // (libzmq then drops the connection for good).
    BROOK_LOG(kError) << "a reply of " << bytes.size() << " bytes is over the "
                      << kMaxDirectoryFrame << "-byte frame limit; answering too_large";
    bytes = encode(DirectoryReply{
        r.id,
        ErrorReply{DirectoryErrc::kTooLarge,
                   "the reply would be " + std::to_string(bytes.size()) + " bytes, over the " +
                       std::to_string(kMaxDirectoryFrame) + "-byte frame limit"}});
  }
  // A peer that vanished or stopped reading loses its reply; ROUTER drops it without blocking.
  (void)router_.send(identity, zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  (void)router_.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
}

void DirectoryServer::publish(std::vector<DirectoryUpdate>& changes) {
  for (const auto& c : changes) {
    const std::string bytes = encode(c);
    registry_.push_routes(c.entry.topology, c.entry.reg.channel, routes_);
    broadcast(update_topic(c.entry.topology, c.entry.reg.channel), bytes, routes_);
    ++stats_.updates_published;
  }
  changes.clear();
}

void DirectoryServer::broadcast(std::string_view topic, std::string_view body,
                                const std::vector<std::string_view>& routes) {
  (void)pub_.send(zmq::buffer(topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  (void)pub_.send(zmq::buffer(body), zmq::send_flags::dontwait);
  // Pushed as on the PUB: two frames, after the routing id. A client that stopped reading loses
  // them (it notices the gap by seq, or by the next mark, and takes a snapshot); ROUTER drops
  // what it cannot queue without blocking.
  for (const std::string_view route : routes) {
    if (!router_.send(zmq::buffer(route), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      continue;
    }
    (void)router_.send(zmq::buffer(topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    (void)router_.send(zmq::buffer(body), zmq::send_flags::dontwait);
  }
}

void DirectoryServer::publish_tick() {
  const auto now = Clock::now();
  if (options_.snapshots) publish_snapshot(now);
  registry_.push_routes(routes_);
  broadcast(kTickKind, encode(DirectoryTick{registry_.state(now)}), routes_);
  // Each recently changed channel's mark goes only to that channel's watchers.
  for (const auto& m : registry_.marks(now)) {
    registry_.push_routes(m.topology, m.channel, routes_);
    broadcast(mark_topic(m.topology, m.channel), encode(m), routes_);
  }
}

void DirectoryServer::publish_snapshot(Clock::time_point now) {
  auto s = std::make_shared<MonitorSnapshot>();
  s->time_ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
  s->epoch = epoch_;
  s->endpoint = endpoint_;
  s->pub_endpoint = pub_endpoint_;
  s->uptime_ms = registry_.state(now).uptime_ms;
  s->heartbeat_ms = static_cast<std::uint64_t>(options_.config.heartbeat.count());
  s->max_instances = options_.config.max_instances;
  s->totals =
      DirectoryTotals{stats_.requests, stats_.bad_requests,      stats_.denied,
                      stats_.refused,  stats_.updates_published, registry_.leases_expired()};
  s->topology = options_.topology;
  s->instances = registry_.monitored(now);
  options_.snapshots->publish(std::move(s));
}

void DirectoryServer::handshake_failures() {
  static LogRateLimiter limiter;
  for (int i = 0; i < 1000; ++i) {
    zmq::message_t head;
    if (!monitor_->recv(head, zmq::recv_flags::dontwait)) return;
    zmq::message_t address;
    if (head.more()) (void)monitor_->recv(address, zmq::recv_flags::none);
    ++stats_.refused;
    std::uint64_t suppressed = 0;
    if (limiter.allow(suppressed)) {
      BROOK_LOG(kWarn) << "refused a connection to " << address.to_string()
                       << ": its CURVE handshake failed (no CURVE, a wrong server key, garbage or "
                          "silence) ("
                       << stats_.refused << " refused so far"
                       << (suppressed > 0 ? ", " + std::to_string(suppressed) + " not logged" : "")
                       << ")";
    }
  }
}

}  // namespace brook
