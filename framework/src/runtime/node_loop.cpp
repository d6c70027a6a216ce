// The node's event loop: poll, receive and dispatch, readiness, and the shutdown sequence.
#include <unistd.h>

#include <algorithm>
#include <brook/error.hpp>
#include <brook/log.hpp>

#include "runtime/node_runtime.hpp"

namespace brook {

namespace {
using namespace std::chrono_literals;
// Messages read from one input before looking at the other sockets again: large enough to
// amortise the poll, small enough to keep inputs fair and timers on time.
constexpr int kInputBatch = 256;
constexpr auto kMaxBatchTime = std::chrono::milliseconds(20);
constexpr auto kQuietForDrain = 100ms;

std::span<const std::byte> bytes_of(const zmq::message_t& m) {
  return {static_cast<const std::byte*>(m.data()), m.size()};
}

std::string peer_of(const zmq::message_t& m) {
  const char* v = zmq_msg_gets(const_cast<zmq_msg_t*>(m.handle()), "Peer-Address");
  return v != nullptr ? v : "unknown peer";
}
}  // namespace

int NodeRuntime::run() {
  if (running_) throw ConfigError("run() called twice");
  for (auto& in : inputs_) {
    if (!in->handler()) no_handler(in->port(), in->channel());
  }
  running_ = true;
  loop_thread_ = std::this_thread::get_id();
  started_ = Clock::now();

  std::vector<Registration> regs;
  for (auto& in : inputs_)
    regs.push_back(in->registration());
  for (auto& out : outputs_)
    regs.push_back(out->registration());
  std::vector<std::string> endpoints =
      options_.directory.empty() ? topology_.directory.endpoints : options_.directory;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  for (const auto& ep : endpoints) {
    detail::InstanceIdentity id{spec_->name, options_.instance, incarnation_, host,
                                static_cast<std::uint32_t>(::getpid())};
    sessions_.push_back(std::make_unique<detail::DirectorySession>(
        context_, security_, ep, id, regs, topology_.directory.ttl, topology_.directory.heartbeat,
        *this));
  }
  ++generation_;
  BROOK_LOG(kInfo) << "starting " << producer_id_ << " (topology " << topology_.name << ", "
                   << inputs_.size() << " inputs, " << outputs_.size() << " outputs, directory "
                   << (endpoints.empty() ? std::string("none") : endpoints.front()) << ")";

  int code = 0;
  try {
    while (!stopping_)
      iterate(Mode::kNormal, Clock::time_point::max());
    shutdown();
  } catch (const std::exception& e) {
    BROOK_LOG(kError) << "fatal: " << e.what();
    code = 1;
  }
  close_all();
  running_ = false;
  return code;
}

void NodeRuntime::build(PollBuffer& b) {
  std::vector<zmq::pollitem_t> items;
  std::vector<bool> always;
  b.slots.clear();
  auto add = [&](void* socket, int fd, Slot slot) {
    items.push_back(zmq::pollitem_t{socket, fd, 0, 0});
    // Sockets sent on from anywhere (acks on inputs, emit on outputs) must be rechecked on every
    // wait; the directory's and the monitors' are used only when they fired or the session ran.
    always.push_back(slot.kind == SlotKind::kInput || slot.kind == SlotKind::kGroupOut ||
                     slot.kind == SlotKind::kPublisher);
    b.slots.push_back(slot);
  };
  add(nullptr, stop_.fd(), {SlotKind::kStop, nullptr, nullptr});
  if (zap_) add(zap_->socket().handle(), 0, {SlotKind::kZap, zap_.get(), nullptr});
  for (auto& in : inputs_) {
    add(in->socket(), 0, {SlotKind::kInput, in.get(), nullptr});
    if (void* m = in->monitor_socket()) add(m, 0, {SlotKind::kInputMonitor, in.get(), nullptr});
  }
  for (auto& s : sessions_) {
    add(s->request_socket(), 0, {SlotKind::kDirRequest, s.get(), nullptr});
    add(s->watch_socket(), 0, {SlotKind::kDirWatch, s.get(), nullptr});
  }
  for (auto& out : outputs_) {
    if (auto* p = out->publisher()) add(p->socket(), 0, {SlotKind::kPublisher, p, out.get()});
    for (auto& [key, g] : out->groups()) {
      add(g->monitor_socket(), 0, {SlotKind::kMonitor, g.get(), out.get()});
      add(g->socket().handle(), 0, {SlotKind::kGroupOut, g.get(), out.get()});
    }
  }
  b.poller.reset(std::move(items), std::move(always));
  b.generation = generation_;
}

void NodeRuntime::recheck_target(PollBuffer& b, const void* target) {
  // It may have sent, and so consumed its sockets' notifications: read their events next time.
  for (std::size_t i = 0; i < b.slots.size(); ++i) {
    if (b.slots[i].target == target) b.poller.recheck(i);
  }
}

void NodeRuntime::iterate(Mode mode, Clock::time_point deadline) {
  PollBuffer& b = buffers_[mode == Mode::kNormal ? 0 : 1];
  if (b.generation != generation_) build(b);
  if (last_polled_ != &b) b.poller.recheck_all();  // the other buffer's iterations used them
  last_polled_ = &b;
  auto& items = b.poller.items();

  bool publisher_work = false;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const Slot& s = b.slots[i];
    short events = 0;
    switch (s.kind) {
      case SlotKind::kStop:
      case SlotKind::kZap:
      case SlotKind::kInputMonitor:
      case SlotKind::kDirRequest:
      case SlotKind::kDirWatch:
      case SlotKind::kMonitor:
      case SlotKind::kPublisher:
        events = ZMQ_POLLIN;
        if (s.kind == SlotKind::kPublisher &&
            static_cast<detail::Publisher*>(s.target)->has_work()) {
          publisher_work = true;
        }
        break;
      case SlotKind::kInput:
        events = mode == Mode::kNormal ? ZMQ_POLLIN : 0;
        break;
      case SlotKind::kGroupOut:
        events = static_cast<detail::GroupSender*>(s.target)->interest();
        break;
    }
    items[i].events = events;
  }

  auto now = Clock::now();
  auto wake = std::min(deadline, now + 1s);
  for (auto& s : sessions_)
    wake = std::min(wake, s->next_wakeup());
  if (mode == Mode::kNormal) {
    wake = std::min(wake, timers_.next_deadline());
    if (!retries_.empty()) wake = std::min(wake, retries_.begin()->first);
    if (!ready_) wake = std::min(wake, now + 10ms);
    if (stopping_) wake = std::min(wake, now + 10ms);
  }
  // XPUB always reports writable, so a stalled subscriber is retried on a short timer instead.
  if (publisher_work) wake = std::min(wake, now + 1ms);
  for (auto& out : outputs_)
    wake = std::min(wake, out->next_wakeup());
  if (more_input_ && mode == Mode::kNormal) wake = now;
  more_input_ = false;
  // Round up: a timer due in 0.4 ms must not turn into a zero timeout, which would spin.
  const auto timeout = std::max(std::chrono::ceil<std::chrono::milliseconds>(wake - now), 0ms);

  const int rc = b.poller.wait(static_cast<int>(std::min<long long>(timeout.count(), 1000)));
  ++counters_.loop_iterations;

  for (std::size_t i = 0; rc > 0 && i < items.size(); ++i) {
    const short rev = items[i].revents;
    if (rev == 0) continue;
    b.poller.recheck(i);  // handled below, perhaps not to the end (an input's batch limit)
    const Slot s = b.slots[i];
    switch (s.kind) {
      case SlotKind::kStop: {
        stop_reads_ += stop_.consume();
        if (!stopping_) {
          stopping_ = true;
          BROOK_LOG(kInfo) << "stopping (" << stop_.reason() << ")";
        }
        break;
      }
      case SlotKind::kInput:
        drain_input(*static_cast<detail::InputPort*>(s.target));
        break;
      case SlotKind::kZap:
        static_cast<ZapHandler*>(s.target)->process();
        break;
      case SlotKind::kInputMonitor:
        static_cast<detail::InputPort*>(s.target)->on_monitor_event();
        break;
      case SlotKind::kDirRequest:
        static_cast<detail::DirectorySession*>(s.target)->on_request_readable();
        recheck_target(b, s.target);  // a reply may have sent a request on the other socket
        break;
      case SlotKind::kDirWatch:
        static_cast<detail::DirectorySession*>(s.target)->on_watch_readable();
        recheck_target(b, s.target);
        break;
      case SlotKind::kMonitor:
        static_cast<detail::GroupSender*>(s.target)->on_monitor_event();
        s.output->flush();  // a replica that just connected can take what was held
        break;
      case SlotKind::kPublisher:
        static_cast<detail::Publisher*>(s.target)->on_readable(s.output->next_seq());
        break;
      case SlotKind::kGroupOut:
        s.output->socket_ready(*static_cast<detail::GroupSender*>(s.target));
        s.output->flush();
        break;
    }
  }

  now = Clock::now();
  if (publisher_work && now >= next_publisher_flush_) {
    next_publisher_flush_ = now + 1ms;
    for (auto& out : outputs_) {
      if (out->publisher() != nullptr) out->flush();
    }
  }
  for (auto& s : sessions_) {
    if (now < s->next_wakeup()) continue;
    s->tick(now);
    recheck_target(b, s.get());
  }
  for (auto& out : outputs_)
    out->tick(now);
  // Acks released by downstream acknowledgements (chained) go out once per iteration.
  for (auto& in : inputs_)
    in->flush_acks();
  if (mode == Mode::kNormal) {
    timers_.run_due(now, [&](const std::exception& e) {
      std::uint64_t suppressed = 0;
      if (handler_log_.allow(suppressed)) {
        BROOK_LOG(kError) << "timer callback threw: " << e.what();
      }
    });
    if (!ready_) check_ready(now);
    run_due_retries(Clock::now());
  }
}

bool NodeRuntime::wait_until(const std::function<bool()>& done, Clock::time_point deadline) {
  while (true) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    iterate(Mode::kControlOnly, std::min(deadline, Clock::now() + 10ms));
  }
}

// ---- receiving -----------------------------------------------------------------------------

void NodeRuntime::drain_input(detail::InputPort& in) {
  zmq::message_t frame;
  std::string why;
  const auto batch_start = Clock::now();
  for (int i = 0; i < kInputBatch; ++i) {
    // Slow handlers must not starve the loop: heartbeats (a late one costs the lease), timers
    // and acknowledgements wait for the batch to end.
    if ((i & 15) == 15 && Clock::now() - batch_start > kMaxBatchTime) break;
    switch (in.receive(frame, why)) {
      case detail::InputPort::Received::kNothing:
        in.flush_acks();  // one acknowledgement frame per producer per batch
        return;
      case detail::InputPort::Received::kWelcome:
        continue;
      case detail::InputPort::Received::kMalformed:
        decode_error(in, frame, why);
        continue;
      case detail::InputPort::Received::kMessage:
        dispatch(in, frame);
        continue;
    }
  }
  in.flush_acks();
  more_input_ = true;
}

void NodeRuntime::dispatch(detail::InputPort& in, zmq::message_t& frame, std::uint32_t attempt) {
  EnvelopeView env;
  if (const DecodeStatus st = decode_envelope(bytes_of(frame), in.limits(), env); !st) {
    decode_error(in, frame, st.describe());
    return;
  }
  if (env.channel != in.channel().name) {
    decode_error(in, frame,
                 "envelope names channel '" + std::string(env.channel.substr(0, 64)) +
                     "' but arrived on '" + in.channel().name + "'");
    if (in.reliable()) in.ack(env.id);  // counted; acknowledged so it is not re-sent forever
    return;
  }
  auto& counters = in.counters();
  if (attempt == 0 && in.reliable() && in.handled(env.id)) {
    // A re-send of something already handled here (its ack was lost or late): ack it again,
    // unless its ack is waiting (for what it emitted, or for a retry).
    ++counters.duplicates;
    if (!in.deferred(env.id)) in.ack(env.id);
    return;
  }
  if (attempt == 0) {
    if (in.channel().pattern == Pattern::kPubsub && !in.tap()) {
      counters.gaps += in.note_published(env.id);
    }
    ++counters.received;
  } else {
    env.attempt = attempt;
    ++counters.retried;
  }
  if (stopping_) last_input_ = Clock::now();
  const Message message = make_message(env, in.port(), payload_decoder_);
  current_ = &env;
  current_in_ = in.reliable() ? &in : nullptr;
  current_token_ = 0;
  const detail::HandlerOutcome outcome = detail::call_handler(in.handler(), message);
  if (outcome.result == detail::HandlerResult::kUndecodable) {
    // Undecodable: no retry can help. Counted, and dead-lettered when the channel says where.
    ++counters.decode_errors;
    std::uint64_t suppressed = 0;
    if (decode_log_.allow(suppressed)) {
      BROOK_LOG(kWarn) << "port '" << in.port() << "': message " << env.id.producer << "/"
                       << env.id.seq << " of type '" << env.type << "' from " << peer_of(frame)
                       << ": " << outcome.error << " (" << counters.decode_errors
                       << " decode errors on this channel)";
    }
    if (!in.channel().dead_letter.empty()) dead_letter(in, env, env.attempt, outcome.error);
  }
  if (outcome.result == detail::HandlerResult::kThrew &&
      handler_failed(in, env, frame, env.attempt, outcome.error)) {
    current_ = nullptr;
    current_in_ = nullptr;
    return;  // a retry is scheduled; the ack waits for it
  }
  current_ = nullptr;
  current_in_ = nullptr;
  // Acknowledged once the handler returned (or failed for good: counted, logged, maybe
  // dead-lettered) and what it emitted was acknowledged downstream.
  if (!in.reliable()) return;
  if (current_token_ != 0) {
    Deferred& d = deferred_[current_token_];
    d.handler_done = true;
    if (d.outstanding > 0) {
      in.defer(env.id);
      current_token_ = 0;
      return;
    }
    deferred_.erase(current_token_);
    current_token_ = 0;
  }
  in.ack(env.id);
}

bool NodeRuntime::handler_failed(detail::InputPort& in, const EnvelopeView& env,
                                 zmq::message_t& frame, std::uint32_t attempt,
                                 const std::string& error) {
  auto& counters = in.counters();
  ++counters.handler_errors;
  const auto& policy = in.channel().retry;
  const std::optional<std::chrono::milliseconds> delay =
      stopping_ ? std::nullopt : backoff_.next(policy, attempt);
  const bool retry = delay.has_value();
  std::uint64_t suppressed = 0;
  if (handler_log_.allow(suppressed)) {
    BROOK_LOG(kError) << "handler for port '" << in.port() << "' threw on message "
                      << env.id.producer << "/" << env.id.seq << " (attempt " << attempt << " of "
                      << policy.max_attempts << "): " << error << "; "
                      << (retry ? "retrying"
                          : in.channel().dead_letter.empty()
                              ? "giving up (no dead_letter channel)"
                              : "dead-lettering to '" + in.channel().dead_letter + "'")
                      << " (" << counters.handler_errors << " handler errors on this channel"
                      << (suppressed ? ", " + std::to_string(suppressed) + " not logged" : "")
                      << ")";
  }
  if (!retry) {
    if (!in.channel().dead_letter.empty()) dead_letter(in, env, attempt, error);
    return false;
  }
  // What the failed attempt emitted stays sent (at-least-once allows the repeat); its acks must
  // no longer release this message, which is now owned by the retry.
  if (current_token_ != 0) {
    deferred_.erase(current_token_);
    current_token_ = 0;
  }
  PendingRetry r;
  r.in = &in;
  r.frame.copy(frame);
  r.peer = in.peer();
  r.attempt = attempt + 1;
  if (in.reliable()) in.defer(env.id);  // re-sends meanwhile are ignored, not handled twice
  retries_.emplace(Clock::now() + *delay, std::move(r));
  return true;
}

void NodeRuntime::dead_letter(detail::InputPort& in, const EnvelopeView& env,
                              std::uint32_t attempts, const std::string& error) {
  const auto it = dead_letter_out_.find(in.channel().name);
  if (it == dead_letter_out_.end()) return;
  if (emit_dead_letter(it->second, in.channel().dead_letter, env, attempts, error)) {
    ++in.counters().dead_lettered;
  }
}

void NodeRuntime::run_due_retries(Clock::time_point now) {
  while (!retries_.empty() && retries_.begin()->first <= now) {
    auto node = retries_.extract(retries_.begin());
    PendingRetry& r = node.mapped();
    r.in->set_peer(r.peer);
    dispatch(*r.in, r.frame, r.attempt);
    r.in->flush_acks();
  }
}

void NodeRuntime::decode_error(detail::InputPort& in, const zmq::message_t& frame,
                               const std::string& why) {
  auto& counters = in.counters();
  ++counters.decode_errors;
  std::uint64_t suppressed = 0;
  if (decode_log_.allow(suppressed)) {
    BROOK_LOG(kWarn) << "dropping malformed message on port '" << in.port() << "' (channel '"
                     << in.channel().name << "') from " << peer_of(frame) << ": " << why << " ("
                     << counters.decode_errors << " decode errors on this channel"
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
  for (auto& out : outputs_) {
    if (!out->ready())
      missing += (missing.empty() ? "" : "; ") + out->port() + ": " + out->readiness();
  }
  for (auto& in : inputs_) {
    // A tap reads the publishers' lossy copy socket, which sends no welcomes.
    if (in->channel().pattern == Pattern::kPubsub && !in->tap() && !in->all_publishers_welcomed()) {
      missing += (missing.empty() ? "" : "; ") + in->port() + ": waiting for a welcome from " +
                 in->waiting_for();
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

// ---- shutdown ------------------------------------------------------------------------------

void NodeRuntime::shutdown() {
  const auto begin = Clock::now();
  run_callbacks(on_stop_, "on_stop");
  // Unregister first so producers stop routing to this instance, then keep handling what was
  // already sent here until the inputs go quiet: messages in our queues are not thrown away.
  for (auto& s : sessions_)
    s->begin_unregister();
  for (auto& buffer : buffers_)
    buffer.poller.recheck_all();  // it sent on their sockets
  const int reads_at_stop = stop_reads_;
  const auto drain_deadline = begin + drain_timeout_;
  last_input_ = Clock::now();
  std::uint64_t drained = 0;
  const std::uint64_t received_before = counters_.total().received;
  if (!inputs_.empty()) {
    while (Clock::now() < drain_deadline && stop_reads_ == reads_at_stop) {
      iterate(Mode::kNormal, std::min(drain_deadline, Clock::now() + kQuietForDrain));
      bool unregistered = true;
      for (auto& s : sessions_)
        unregistered = unregistered && s->unregister_done();
      if (unregistered && Clock::now() - last_input_ >= kQuietForDrain) break;
    }
    drained = counters_.total().received - received_before;
  }
  for (auto& in : inputs_)
    in->flush_acks();
  // Hand held messages to ZeroMQ; what sits in socket queues then gets the linger period.
  const auto flush_deadline = Clock::now() + linger_;
  bool flushed = wait_until(
      [&] {
        flush_outputs();
        for (auto& out : outputs_) {
          if (out->has_pending()) return false;
        }
        return true;
      },
      stop_reads_ == reads_at_stop ? flush_deadline : Clock::now());
  for (auto& in : inputs_)
    in->flush_acks();  // chained acks released by the flush above
  for (auto& s : sessions_) {
    while (!s->unregister_done() && stop_reads_ == reads_at_stop) {
      iterate(Mode::kControlOnly, Clock::now() + 50ms);
    }
  }
  const auto total = counters_.total();
  BROOK_LOG(kInfo)
      << "stopped after "
      << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin).count()
      << " ms: received " << total.received << " (" << drained << " while draining), emitted "
      << total.emitted << ", decode errors " << total.decode_errors << ", handler errors "
      << total.handler_errors << ", dropped " << total.dropped
      << (flushed ? "" : ", " + std::to_string(total.pending) + " still pending");
}

void NodeRuntime::close_all() noexcept {
  try {
    sessions_.clear();
    inputs_.clear();
    outputs_.clear();
    zap_.reset();
    ++generation_;
    context_.close();  // waits up to each socket's linger for queued messages to leave
  } catch (...) {
    // Destructors must not throw; the process is going away.
  }
}

}  // namespace brook
