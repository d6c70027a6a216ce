// The node's event loop: what the reactor serves, receive and dispatch, readiness, and the
// shutdown sequence.
#include <unistd.h>

#include <algorithm>
#include <brook/error.hpp>
#include <brook/log.hpp>

#include "runtime/node_runtime.hpp"
#include "runtime/socket_setup.hpp"
#include "util/log_context.hpp"

namespace brook {

namespace {
using namespace std::chrono_literals;
// Messages read from one input before looking at the other sockets again: large enough to
// amortise the poll, small enough to keep inputs fair and timers on time.
constexpr int kInputBatch = 256;
constexpr auto kMaxBatchTime = 20ms;
}  // namespace

int NodeRuntime::run() {
  if (running_) throw ConfigError("run() called twice");
  for (auto& in : inputs_) {
    if (!in->handler()) no_handler(in->port(), in->channel());
  }
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    if (!request_handlers_[i]) no_handler(servers_[i]->port(), servers_[i]->channel());
  }
  retire_unused_state_store();
  running_ = true;
  loop_thread_ = std::this_thread::get_id();
  started_ = Clock::now();
  start_directory_sessions();
  watch_framework_sockets();

  int code = 0;
  try {
    while (!stopping_)
      reactor_.run_once(Clock::time_point::max());
    shutdown();
    code = exit_code_;
  } catch (const std::exception& e) {
    BROOK_LOG(kError) << "fatal: " << e.what();
    code = 1;
  }
  close_all();
  running_ = false;
  return code;
}

void NodeRuntime::start_directory_sessions() {
  std::vector<Registration> regs;
  for (auto& in : inputs_)
    regs.push_back(in->registration());
  for (auto& out : outputs_)
    regs.push_back(out->registration());
  for (auto& s : servers_)
    regs.push_back(s->registration());
  for (auto& r : requesters_)
    regs.push_back(r->registration());
  const std::vector<std::string> endpoints =
      options_.directory.empty() ? topology_.directory.endpoints : options_.directory;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  for (const auto& ep : endpoints) {
    detail::InstanceIdentity id{spec_->name,
                                options_.instance,
                                incarnation_,
                                host,
                                static_cast<std::uint32_t>(::getpid()),
                                topology_.name,
                                detail::process_token()};
    sessions_.push_back(std::make_unique<detail::DirectorySession>(
        context_, security_, ep, id, regs, topology_.directory.ttl, topology_.directory.heartbeat,
        *this));
    detail::DirectorySession& s = *sessions_.back();
    // Handling one socket may send on the other (a reply triggers a request): read both again.
    auto ids = std::make_shared<std::pair<detail::Reactor::ReaderId, detail::Reactor::ReaderId>>();
    auto recheck = [this, ids] {
      reactor_.recheck(ids->first);
      reactor_.recheck(ids->second);
    };
    ids->first = reactor_.add_socket(zmq::socket_ref(zmq::from_handle, s.request_socket()),
                                     ZMQ_POLLIN, [&s, recheck](short) {
                                       s.on_request_readable();
                                       recheck();
                                     });
    ids->second = reactor_.add_socket(zmq::socket_ref(zmq::from_handle, s.watch_socket()),
                                      ZMQ_POLLIN, [&s, recheck](short) {
                                        s.on_watch_readable();
                                        recheck();
                                      });
    reactor_.add_source([&s] { return s.next_wakeup(); },
                        [&s, recheck](Clock::time_point now) {
                          if (now < s.next_wakeup()) return;
                          s.tick(now);
                          recheck();
                        });
  }
  BROOK_LOG(kInfo) << "starting " << producer_id_ << " (topology " << topology_.name << ", "
                   << inputs_.size() + servers_.size() << " inputs, "
                   << outputs_.size() + requesters_.size() << " outputs, directory "
                   << (endpoints.empty() ? std::string("none") : endpoints.front()) << ")";
}

void NodeRuntime::watch_framework_sockets() {
  reactor_.add_fd(stop_.fd(), ZMQ_POLLIN, [this](short) { on_stop_fd(); });
  watch_request_ports();
  if (zap_) reactor_.add_socket(zap_->socket(), ZMQ_POLLIN, [this](short) { zap_->process(); });
  for (auto& in : inputs_) {
    detail::Receiver& r = *in;
    detail::ReaderOptions data;
    data.group = detail::ReactorGroup::kData;  // runs handlers: never while one waits in emit()
    data.recheck_always = r.acknowledges();    // acknowledgements are sent on it from anywhere
    data.drains = true;
    // Whatever else uses the socket (a drain stopped at its batch limit, the accept guard's
    // unbind and bind) leaves notifications its fd does not repeat: the reactor reads it again.
    auto id = std::make_shared<detail::Reactor::ReaderId>();
    auto drain = [this, &r, id] {
      if (!drain_input(r)) reactor_.recheck(*id);
    };
    *id = reactor_.add_socket(
        r.socket(), ZMQ_POLLIN, [drain](short) { drain(); }, data);
    reactor_.add_socket(zmq::socket_ref(zmq::from_handle, r.monitor_socket()), ZMQ_POLLIN,
                        [this, &r, reader = *id](short) {
                          r.on_monitor_event();
                          reactor_.recheck(reader);
                        });
    // Messages held back: only when due. A drain that finds the socket empty is a poll() and a
    // getpid() inside libzmq, which every loop pass would pay otherwise.
    reactor_.add_source([&r] { return r.next_wakeup(); },
                        [&r, drain](Clock::time_point now) {
                          if (now >= r.next_wakeup()) drain();
                        },
                        data.group);
    watch_accept_guard(r.accept_guard(), *id);
  }
  // With a state store, each pass commits what its handlers did (before its acks go out).
  reactor_.add_source([this] { return pass_open() ? Clock::now() : Clock::time_point::max(); },
                      [this](Clock::time_point) { commit_pass(); });
  // Acknowledgements released by downstream ones (chained) go out after every pass.
  reactor_.add_source([] { return Clock::time_point::max(); },
                      [this](Clock::time_point) {
                        for (auto& in : inputs_)
                          in->flush_acks();
                      });
  reactor_.add_source([this] { return tracker_.next_retry(); },
                      [this](Clock::time_point now) {
                        if (now < tracker_.next_retry()) return;
                        tracker_.run_due(now,
                                         [this](detail::Receiver& in, zmq::message_t& frame,
                                                const std::string& peer, std::uint32_t attempt) {
                                           EnvelopeView env;
                                           dispatch(in, frame, peer, env, attempt);
                                         });
                      },
                      detail::ReactorGroup::kData);
  // Not in the data group: the liveness signals say the loop turns, a long handler included
  // (emit() waiting for room runs control sources); a loop that hangs stops them.
  liveness_.emplace(topology_.directory.heartbeat);
  if (liveness_->active()) {
    reactor_.add_source(
        [this] { return liveness_->next_wakeup(); },
        [this](Clock::time_point now) {
          liveness_->tick(now, stopping_ ? "stopping" : ready_ ? "ready" : "starting");
        });
  }
  // Readiness changes only with what the loop handles (a directory reply, a connection, a
  // welcome), and sources tick after every poll: so it is checked then, and wakes the loop by
  // itself only for the ready timeout (and the warnings after it). The last source added here,
  // so it sees what the other sources did in the same pass.
  reactor_.add_source(
      [this] {
        return ready_ ? Clock::time_point::max()
                      : std::max(started_ + ready_timeout_, next_unregistered_warn_);
      },
      [this](Clock::time_point now) {
        if (!ready_) check_ready(now);
      },
      detail::ReactorGroup::kData);  // runs on_ready callbacks
}

void NodeRuntime::watch_accept_guard(detail::AcceptGuard& guard,
                                     detail::Reactor::ReaderId socket_reader) {
  reactor_.add_source([&guard] { return guard.next_wakeup(); },
                      [this, &guard, socket_reader](Clock::time_point now) {
                        if (now < guard.next_wakeup()) return;
                        guard.tick(now);
                        reactor_.recheck(socket_reader);  // the bind used the socket
                      });
}

void NodeRuntime::on_stop_fd() {
  stop_reads_ += stop_.consume();
  if (!stopping_) {
    stopping_ = true;
    BROOK_LOG(kInfo) << "stopping (" << stop_.reason() << ")";
    notify_stopping(stop_.reason());
  }
}

bool NodeRuntime::wait_until(const std::function<bool()>& done, Clock::time_point deadline) {
  while (true) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    reactor_.run_once(std::min(deadline, Clock::now() + 10ms), detail::Reactor::Mode::kControlOnly);
  }
}

// ---- receiving -----------------------------------------------------------------------------

bool NodeRuntime::drain_input(detail::Receiver& in) {
  zmq::message_t frame;
  EnvelopeView env;
  std::string why;
  const auto batch_start = Clock::now();
  for (int i = 0; i < kInputBatch; ++i) {
    // Slow handlers must not starve the loop: heartbeats (a late one costs the lease), timers
    // and acknowledgements wait for the batch to end.
    if ((i & 15) == 15 && Clock::now() - batch_start > kMaxBatchTime) break;
    switch (in.receive(frame, peer_, why)) {
      case detail::Receiver::Received::kNothing:
        in.flush_acks();  // one acknowledgement frame per producer per batch
        return true;
      case detail::Receiver::Received::kControl:
        continue;
      case detail::Receiver::Received::kMalformed:
        decode_error(in, frame, why);
        continue;
      case detail::Receiver::Received::kRefused:
        tap_refused(why);
        continue;
      case detail::Receiver::Received::kMessage:
        dispatch(in, frame, peer_, env, 0, i == 0);
        continue;
    }
  }
  in.flush_acks();
  return false;  // more may wait
}

void NodeRuntime::dispatch(detail::Receiver& in, zmq::message_t& frame, const std::string& peer,
                           EnvelopeView& env, std::uint32_t attempt, bool first_of_batch) {
  if (const DecodeStatus st = decode_envelope(detail::bytes_of(frame), in.limits(), env); !st) {
    decode_error(in, frame, st.describe());
    return;
  }
  if (env.channel != in.channel().name) {
    misrouted(in, frame, env, peer);
    return;
  }
  // Lines logged from here on (the handler's, and what becomes of the message) name it.
  const detail::LogMessage logged{env.channel, env.id.producer, env.id.seq, &env.trace};
  const detail::LogMessageScope log_scope(logged);
  auto& counters = in.counters();
  if (attempt == 0) {
    if (!in.admit(env, peer, frame)) return;
    ++counters.received;
  } else {
    env.attempt = attempt;
    ++counters.retried;
  }
  if (stopping_) {
    last_input_ = Clock::now();
    if (in.acknowledges()) last_acknowledged_input_ = last_input_;
  }
  detail::DeliveryTracker::Attempt a{in, env, peer};
  const Message message = make_message(env, in.port(), payload_decoder_);
  // A sampled message gets a span id (its emits' parent) whether or not this node records spans.
  const bool sampled = env.sampled();
  const bool traced = sampled && tracer_;
  std::int64_t start_ns = 0;
  Clock::time_point started{};
  if (sampled) a.span = trace_ids_.next_span();
  if (traced) {
    start_ns = wall_clock_ns();
    started = Clock::now();
  }
  detail::HandlerOutcome outcome = call_handler(in, message, a, first_of_batch);
  const std::uint64_t dead_lettered = counters.dead_lettered;
  detail::SpanOutcome span_outcome = detail::SpanOutcome::kOk;
  if (outcome.result == detail::HandlerResult::kDeclined) {
    if (in.acknowledges()) {
      declined(in, env, outcome.error);
      if (traced) {
        record_handling(env, a.span, start_ns, started, detail::SpanOutcome::kDeclined,
                        outcome.error);
      }
      return;  // no ack, not marked handled: the producer re-sends it
    }
    outcome.result = detail::HandlerResult::kThrew;  // nobody to give it back to
  }
  switch (outcome.result) {
    case detail::HandlerResult::kOk:
      break;
    case detail::HandlerResult::kUndecodable:
      tracker_.undecodable(a, outcome.error, detail::peer_address(frame));
      span_outcome = detail::SpanOutcome::kError;
      break;
    case detail::HandlerResult::kThrew:
    case detail::HandlerResult::kDeclined:
      if (tracker_.failed(a, frame, outcome.error, stopping_)) {
        if (traced) {
          record_handling(env, a.span, start_ns, started, detail::SpanOutcome::kRetried,
                          outcome.error);
        }
        return;  // the retry owns it
      }
      span_outcome = detail::SpanOutcome::kError;
      break;
  }
  if (traced) {
    if (counters.dead_lettered != dead_lettered) span_outcome = detail::SpanOutcome::kDeadLettered;
    record_handling(env, a.span, start_ns, started, span_outcome, outcome.error);
  }
  // With a state store, what the handler changed and emitted commits with the loop pass, and
  // the message is acknowledged then. (A failed or undecodable one changed nothing; its dead
  // letter, if any, is chained as without a store.)
  if (state_ && outcome.result == detail::HandlerResult::kOk && in.acknowledges()) {
    hold_for_commit(in, env, peer);
    return;
  }
  tracker_.settle(a);
}

void NodeRuntime::declined(detail::Receiver& in, const EnvelopeView& env, const std::string& why) {
  auto& counters = in.counters();
  ++counters.declined;
  std::uint64_t suppressed = 0;
  if (declined_log_.allow(suppressed)) {
    BROOK_LOG(kWarn) << "handler for port '" << in.port() << "' declined message "
                     << env.id.producer.substr(0, 255) << "/" << env.id.seq << ": " << why
                     << "; left with its producer, which re-sends it after "
                     << in.channel().ack_timeout.count() << " ms (" << counters.declined
                     << " declined on this channel"
                     << (suppressed ? ", " + std::to_string(suppressed) + " not logged" : "")
                     << ")";
  }
}

void NodeRuntime::misrouted(detail::Receiver& in, const zmq::message_t& frame,
                            const EnvelopeView& env, const std::string& peer) {
  const std::string why = "envelope names channel '" + std::string(env.channel.substr(0, 64)) +
                          "' but arrived on '" + in.channel().name + "'";
  // Acknowledging it would tell its producer that the other channel's consumer handled it.
  if (!in.turn_away(peer)) {
    decode_error(in, frame, why);
    return;
  }
  auto& counters = in.counters();
  ++counters.misrouted;
  std::uint64_t suppressed = 0;
  if (misrouted_log_.allow(suppressed)) {
    BROOK_LOG(kWarn) << "port '" << in.port() << "' (channel '" << in.channel().name
                     << "'): the producer at " << detail::peer_address(frame)
                     << " has a stale address: " << why
                     << " (this port was another channel's, whose process died without "
                        "unregistering); left unacknowledged with its producer, which sends "
                        "nothing new here and re-sends it once that registration expires ("
                     << counters.misrouted << " misrouted on this channel"
                     << (suppressed ? ", " + std::to_string(suppressed) + " not logged" : "")
                     << ")";
  }
}

void NodeRuntime::tap_refused(const std::string& why) {
  // Another producer may refuse too: one line says it.
  if (exit_code_ != 0) return;
  BROOK_LOG(kError) << why;
  exit_code_ = 1;
  stop_.request_stop();
}

void NodeRuntime::decode_error(detail::Receiver& in, const zmq::message_t& frame,
                               const std::string& why) {
  auto& counters = in.counters();
  ++counters.decode_errors;
  std::uint64_t suppressed = 0;
  if (decode_log_.allow(suppressed)) {
    BROOK_LOG(kWarn) << "dropping malformed message on port '" << in.port() << "' (channel '"
                     << in.channel().name << "') from " << detail::peer_address(frame) << ": "
                     << why << " (" << counters.decode_errors << " decode errors on this channel"
                     << (suppressed ? ", " + std::to_string(suppressed) + " not logged" : "")
                     << ")";
  }
}

// ---- readiness -----------------------------------------------------------------------------

void NodeRuntime::check_ready(Clock::time_point now) {
  bool synced = false;
  for (auto& s : sessions_)
    synced = synced || s->synced();
  const bool timed_out = now - started_ >= ready_timeout_;
  if (!registered_once_ || !synced) {
    if (timed_out && now >= next_unregistered_warn_) {
      next_unregistered_warn_ = now + ready_timeout_;
      BROOK_LOG(kWarn)
          << "not registered with any directory after "
          << std::chrono::duration_cast<std::chrono::milliseconds>(now - started_).count()
          << " ms; is brook-directory running at "
          << (sessions_.empty() ? std::string("(none)") : sessions_.front()->endpoint()) << "?";
    }
    return;
  }
  std::string missing;
  auto add = [&](const std::string& port, const std::string& what) {
    missing += (missing.empty() ? "" : "; ") + port + ": " + what;
  };
  for (auto& out : outputs_) {
    if (!out->ready()) add(out->port(), out->readiness());
  }
  for (auto& r : requesters_) {
    if (!r->ready()) add(r->port(), r->readiness());
  }
  for (auto& in : inputs_) {
    if (const std::string w = in->waiting_for(); !w.empty()) {
      add(in->port(), "waiting for a welcome from " + w);
    }
  }
  if (!missing.empty() && !timed_out) return;
  if (!missing.empty()) {
    BROOK_LOG(kWarn) << "ready after the " << ready_timeout_.count()
                     << " ms ready timeout without every peer: " << missing
                     << ". Messages for missing consumers are held (up to max_pending each).";
  }
  ready_ = true;
  for (auto& out : outputs_)
    out->open();
  flush_outputs();
  std::string eps;
  for (auto& in : inputs_)
    eps += " " + in->port() + "=" + in->endpoint();
  for (auto& s : servers_)
    eps += " " + s->port() + "=" + s->endpoint();
  BROOK_LOG(kInfo) << "ready in "
                   << std::chrono::duration_cast<std::chrono::milliseconds>(now - started_).count()
                   << " ms" << eps;
  notify_ready(producer_id_ + eps);
  run_callbacks(on_ready_, "on_ready");
}

void NodeRuntime::flush_outputs() {
  for (auto& out : outputs_) {
    if (out->has_pending()) out->flush();
  }
}

}  // namespace brook
