// NodeRuntime set-up, the emit path and directory events. The loop itself is in node_loop.cpp.
#include "runtime/node_runtime.hpp"

#include <brook/error.hpp>
#include <brook/log.hpp>

#include "runtime/pipeline_output.hpp"
#include "runtime/pubsub_output.hpp"
#include "runtime/replica_set.hpp"

namespace brook {

NodeRuntime::NodeRuntime(NodeOptions options)
    : NodeEngine(std::move(options), random_id()),
      context_(1),
      stop_(options_.handle_signals),
      tracker_([this](detail::DeliveryTracker::Attempt& a, std::uint32_t attempts,
                      const std::string& error) { return dead_letter(a, attempts, error); }) {
  ready_timeout_ = options_.ready_timeout.value_or(spec_->ready_timeout);
  drain_timeout_ = options_.drain_timeout.value_or(spec_->drain_timeout);
  linger_ = drain_timeout_;
  security_ = Security::load(topology_.security,
                             options_.identity.empty() ? spec_->name : options_.identity,
                             options_.key_file);
  if (security_.curve()) {
    zap_ = std::make_unique<ZapHandler>(context_, security_,
                                        [this](const ZapRequest& r, const ZapVerdict&) {
                                          auto it = counters_.channels.find(r.domain);
                                          if (it != counters_.channels.end()) ++it->second.refused;
                                        });
  }

  make_inputs();
  make_outputs();
  make_dead_letter_outputs();
  start_tracing();
  wait_fn_ = [this](const std::function<bool()>& done, Clock::time_point deadline) {
    return wait_until(done, deadline);
  };
  reactor_.on_error([this](const std::exception& e) {
    std::uint64_t suppressed = 0;
    if (callback_log_.allow(suppressed)) {
      BROOK_LOG(kError) << "timer or posted callback threw: " << e.what();
    }
  });
}

NodeRuntime::~NodeRuntime() {
  detach_holds();  // Holds captured by handlers die with the members below
  close_all();
}

void NodeRuntime::make_inputs() {
  const detail::ListenAddress listen{options_.bind.empty() ? options_.advertise : options_.bind,
                                     options_.advertise};
  for (const auto& port : spec_->inputs) {
    const ChannelSpec* ch = topology_.channel(port.channel);
    if (ch->pattern == Pattern::kRequest) {
      // An observer (brook tap) takes no requests: they are answered once, by the serving node.
      if (options_.observer) continue;
      servers_.push_back(std::make_unique<detail::RequestServer>(
          context_, port, *ch, listen, producer_id_, linger_, counters_.channels[ch->name],
          security_));
      request_handlers_.emplace_back();
      continue;
    }
    inputs_.push_back(detail::make_receiver(context_, port, *ch, listen, producer_id_,
                                            options_.observer, linger_,
                                            counters_.channels[ch->name], security_));
  }
}

void NodeRuntime::make_outputs() {
  // A store an earlier incarnation left says which of the journals' records it committed.
  std::error_code ec;
  if (!options_.observer && std::filesystem::exists(state_file(), ec)) open_state_store();
  for (const auto& port : spec_->outputs) {
    const ChannelSpec* ch = topology_.channel(port.channel);
    if (ch->pattern == Pattern::kRequest) {
      requesters_.push_back(std::make_unique<detail::RequestOutput>(
          reactor_, context_, port, *ch, topology_, producer_id_, linger_,
          counters_.channels[ch->name], security_));
      continue;
    }
    std::unique_ptr<detail::OutputJournal> journal;
    std::string producer = producer_id_;
    if (port.durable && !options_.observer) {
      journal = std::make_unique<detail::OutputJournal>(
          topology_.state_dir / topology_.name / instance_name_ / port.port, port.fsync);
      // Before the port replays it: records the store never committed must not go out.
      if (state_) adopt_journal(port.port, *journal);
      // The same for every incarnation of this instance's journal: consumers then recognise
      // what it re-sends after a crash.
      producer = instance_name_ + "@j" + journal->id();
    }
    add_output(port, *ch, std::move(producer), std::move(journal));
  }
}

// Channels this node reads that name a dead-letter channel get an implicit output to it.
void NodeRuntime::make_dead_letter_outputs() {
  for (const auto& port : spec_->inputs) {
    const ChannelSpec* ch = topology_.channel(port.channel);
    if (ch->pattern == Pattern::kRequest) continue;
    if (ch->dead_letter.empty() || options_.observer || dead_letter_out_.count(ch->name)) continue;
    const ChannelSpec* dl = topology_.channel(ch->dead_letter);
    if (dl == nullptr) continue;
    PortSpec dl_port;
    dl_port.port = "~dead-letter:" + ch->name;
    dl_port.channel = dl->name;
    dl_port.where = port.where;
    add_output(dl_port, *dl, producer_id_, nullptr);
    dead_letter_out_[ch->name] = outputs_.size() - 1;
  }
}

void NodeRuntime::add_output(const PortSpec& port, const ChannelSpec& ch, std::string producer,
                             std::unique_ptr<detail::OutputJournal> journal) {
  auto& counters = counters_.channels[ch.name];
  if (ch.pattern == Pattern::kPubsub) {
    outputs_.push_back(std::make_unique<detail::PubsubOutput>(reactor_, context_, port, ch,
                                                              topology_, std::move(producer),
                                                              linger_, counters, security_));
    return;
  }
  const std::size_t index = outputs_.size();
  outputs_.push_back(std::make_unique<detail::PipelineOutput>(
      reactor_, context_, port, ch, topology_, std::move(producer), linger_, counters, security_,
      std::move(journal), [this, index](std::uint64_t seq, std::uint64_t tag) {
        tracker_.acked(tag);
        receipt_acked(index, seq);
      }));
}

void NodeRuntime::receipt_acked(std::size_t output, std::uint64_t seq) {
  if (output >= receipts_.size() || receipts_[output].empty()) return;
  auto& receipts = receipts_[output];
  const auto it = receipts.find(seq);
  if (it == receipts.end() || --it->second.acks_left > 0) return;
  std::function<void()> fn = std::move(it->second.fn);
  receipts.erase(it);
  try {
    fn();
  } catch (const std::exception& e) {
    std::uint64_t suppressed = 0;
    if (callback_log_.allow(suppressed)) {
      BROOK_LOG(kError) << "on_acknowledged callback of output '" << outputs_[output]->port()
                        << "' threw: " << e.what();
    }
  }
}

void NodeRuntime::check_loop_thread(const char* what) const {
  if (running_ && std::this_thread::get_id() != loop_thread_) {
    throw ConfigError(std::string(what) +
                      " called from a thread other than the node's loop thread; call it from a "
                      "handler, timer or on_ready callback, or hand it to the loop with "
                      "node.post()");
  }
}

void NodeRuntime::set_handler(std::string_view port, std::function<void(const Message&)> fn) {
  if (running_) throw ConfigError("handlers must be registered before run()");
  for (auto& in : inputs_) {
    if (in->port() == port) {
      if (in->handler()) {
        throw ConfigError("input port '" + std::string(port) + "' already has a handler");
      }
      in->handler() = std::move(fn);
      return;
    }
  }
  for (auto& server : servers_) {
    if (server->port() == port) {
      throw ConfigError("input port '" + std::string(port) + "' reads request channel '" +
                        server->channel().name + "': serve it with node.on_request<Req, Rep>()");
    }
  }
  no_input_port(port);
}

std::size_t NodeRuntime::output_index(std::string_view port) const {
  for (std::size_t i = 0; i < outputs_.size(); ++i) {
    if (outputs_[i]->port() == port) return i;
  }
  no_output_port(port);
}

// ---- the emit path ----------------------------------------------------------------------------

OutgoingEnvelope NodeRuntime::begin_emit(std::size_t output, std::string_view type,
                                         const EmitOptions& o) {
  check_loop_thread("emit()");
  auto& out = *outputs_[output];
  OutgoingEnvelope env =
      new_envelope(out.producer_id(), out.next_seq(), out.channel().name, type, o, TraceId{});
  trace_context(env, o.trace);
  return env;
}

void NodeRuntime::finish_emit(std::size_t output, std::span<const std::byte> frame,
                              const EmitOptions& o) {
  auto& out = *outputs_[output];
  check_frame_size(out.channel(), frame.size());
  if (!running_) {
    throw ConfigError("emit() before run(): emit from on_ready, a handler or a timer");
  }
  if (o.on_acknowledged && !out.channel().reliable())
    receipt_unacknowledged(out.port(), out.channel());
  // Only order_by channels pay for hashing the key.
  const std::uint64_t key_hash = o.key && out.channel().order_by_key ? detail::key_hash(*o.key) : 0;
  out.make_room(wait_fn_);  // on_full applies now, in the emit() the handler called
  const std::uint64_t seq = out.take_seq();
  zmq::message_t msg(frame.data(), frame.size());
  if (handling_ != nullptr && handling_->staging) {
    staged_.push_back(Staged{output, seq, key_hash, std::move(msg), o.on_acknowledged});
    return;
  }
  if (state_ && handling_ == nullptr) {
    // A timer's or on_ready's emits commit with the loop pass, like its state changes.
    pass_output_.push_back(Staged{output, seq, key_hash, std::move(msg), o.on_acknowledged});
    ++pass_callback_emits_;
    return;
  }
  try {
    deliver(output, msg, seq, key_hash, handling_ != nullptr ? handling_->attempt : nullptr, false,
            o.on_acknowledged);
  } catch (...) {
    // Not accepted (a durable output's journal had no room): its number goes to the next one.
    out.rewind_seq(seq);
    throw;
  }
}

void NodeRuntime::deliver(std::size_t output, zmq::message_t& msg, std::uint64_t seq,
                          std::uint64_t key_hash, detail::DeliveryTracker::Attempt* attempt,
                          bool journaled, std::function<void()> on_acknowledged) {
  auto& out = *outputs_[output];
  // A durable output's journal holds the message from here on, so the input that caused it
  // need not wait for downstream acknowledgements (chained acks are for outputs without one).
  const bool chained = attempt != nullptr && !out.durable() && out.acknowledged();
  const std::uint64_t tag = chained ? tracker_.chain(*attempt) : 0;
  const std::size_t takers = out.deliver(msg, seq, key_hash, journaled, tag);
  ++out.counters().emitted;
  if (on_acknowledged && takers > 0) {
    if (receipts_.size() <= output) receipts_.resize(outputs_.size());
    receipts_[output][seq] = Receipt{takers, std::move(on_acknowledged)};
  }
  if (chained) tracker_.emitted(*attempt, takers);
}

detail::HandlerOutcome NodeRuntime::call_handler(detail::Receiver& in, const Message& message,
                                                 detail::DeliveryTracker::Attempt& attempt,
                                                 bool first_of_batch) {
  Handling h{attempt.env, &attempt, true, attempt.span};
  staged_.clear();
  if (state_) state_->begin_call();
  handling_ = &h;
  // The handler latency histogram (docs/monitoring.md): a steady_clock pair per timed call.
  detail::HandlerTiming& timing = in.handler_timing();
  const bool timed = timing.due(first_of_batch);
  const auto started = timed ? Clock::now() : Clock::time_point{};
  const detail::HandlerOutcome outcome = detail::call_handler(in.handler(), message);
  ChannelCounters& counters = in.counters();
  if (timed) {
    timing.timed(counters.latency, Clock::now() - started);
  } else {
    timing.untimed(counters.latency);
  }
  if (outcome.result == detail::HandlerResult::kOk) ++counters.handled;
  handling_ = nullptr;
  if (state_) {
    state_->end_call(outcome.result == detail::HandlerResult::kOk);
    if (outcome.result == detail::HandlerResult::kOk) {
      // Journaled and delivered when the loop pass commits (node_state.cpp).
      for (auto& s : staged_)
        pass_output_.push_back(std::move(s));
      staged_.clear();
      return outcome;
    }
  }
  if (outcome.result == detail::HandlerResult::kOk) {
    std::size_t delivered = 0;
    try {
      for (; delivered < staged_.size(); ++delivered) {
        auto& s = staged_[delivered];
        deliver(s.output, s.msg, s.seq, s.key_hash, &attempt, false, std::move(s.on_acknowledged));
      }
    } catch (const std::exception& e) {
      // A journal that cannot append (a full disk): what was delivered before stays sent, the
      // message is retried like a handler that threw. The numbers of what was not delivered are
      // given back (the latest taken on each output).
      for (std::size_t i = staged_.size(); i > delivered; --i) {
        outputs_[staged_[i - 1].output]->rewind_seq(staged_[i - 1].seq);
      }
      staged_.clear();
      return {detail::HandlerResult::kThrew, std::string("delivering its output: ") + e.what()};
    }
  } else {
    // Transactional output: a failed attempt's emits never leave, so a retry does not repeat
    // them; their sequence numbers are given back (subscribers would count them as gaps).
    for (auto it = staged_.rbegin(); it != staged_.rend(); ++it) {
      outputs_[it->output]->rewind_seq(it->seq);
    }
  }
  staged_.clear();
  return outcome;
}

bool NodeRuntime::dead_letter(detail::DeliveryTracker::Attempt& a, std::uint32_t attempts,
                              const std::string& error) {
  const auto it = dead_letter_out_.find(a.in.channel().name);
  if (it == dead_letter_out_.end()) return false;
  // Part of the attempt, sent at once: it continues the message's trace, and the message is
  // acknowledged only once its dead letter is (chained).
  Handling h{a.env, &a, false, a.span};
  Handling* outer = handling_;
  handling_ = &h;
  const bool sent =
      emit_dead_letter(it->second, a.in.channel().dead_letter, a.env, attempts, error);
  handling_ = outer;
  return sent;
}

TimerId NodeRuntime::add_timer(std::chrono::milliseconds delay, std::chrono::milliseconds period,
                               bool periodic, std::function<void()> fn) {
  check_loop_thread("every()/after()");
  // The loop sees a stop request only at its next poll, and the shutdown drain still runs the
  // reactor: without this check a timer that called stop() would fire once more. (A signal is
  // seen at the next poll: reading the signalfd here would be a system call per tick.)
  return reactor_.add_timer(Clock::now() + delay, period, periodic, [this, fn = std::move(fn)] {
    if (stop_.seen() || stopping_) return;
    fn();
  });
}

void NodeRuntime::cancel_timer(TimerId id) {
  check_loop_thread("cancel()");
  reactor_.cancel_timer(id);
}

WatchId NodeRuntime::watch_fd(int fd, short events, std::function<void(short)> fn) {
  check_loop_thread("watch()");
  detail::ReaderOptions o;
  o.group = detail::ReactorGroup::kData;  // user code: never run while a handler waits
  return reactor_.add_fd(fd, events, std::move(fn), o);
}

WatchId NodeRuntime::watch_socket(void* socket, short events, std::function<void(short)> fn) {
  check_loop_thread("watch_socket()");
  detail::ReaderOptions o;
  o.group = detail::ReactorGroup::kData;
  // The node's code sends and receives on it anywhere: read its events before every poll.
  o.recheck_always = true;
  return reactor_.add_socket(zmq::socket_ref(zmq::from_handle, socket), events, std::move(fn), o);
}

void NodeRuntime::unwatch(WatchId id) {
  check_loop_thread("unwatch()");
  reactor_.remove(id);
}

// ---- request/reply -------------------------------------------------------------------------

void NodeRuntime::set_request_handler(std::string_view port, RequestFn fn) {
  if (running_) throw ConfigError("handlers must be registered before run()");
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    if (servers_[i]->port() != port) continue;
    if (request_handlers_[i]) {
      throw ConfigError("input port '" + std::string(port) + "' already has a handler");
    }
    request_handlers_[i] = std::move(fn);
    return;
  }
  for (auto& in : inputs_) {
    if (in->port() == port) {
      throw ConfigError("input port '" + std::string(port) + "' reads " +
                        std::string(to_string(in->channel().pattern)) + " channel '" +
                        in->channel().name + "', not a request channel: use node.on<T>()");
    }
  }
  no_input_port(port);
}

detail::RequestOutput& NodeRuntime::requester(std::string_view port) const {
  for (const auto& r : requesters_) {
    if (r->port() == port) return *r;
  }
  for (const auto& out : outputs_) {
    if (out->port() == port) {
      throw ConfigError("output port '" + std::string(port) + "' writes " +
                        std::string(to_string(out->channel().pattern)) + " channel '" +
                        out->channel().name + "', not a request channel: use node.emit()");
    }
  }
  no_output_port(port);
}

OutgoingEnvelope NodeRuntime::begin_request(std::string_view port, std::string_view type) {
  check_loop_thread("request()");
  if (!running_) {
    throw ConfigError("request() before run(): send requests from on_ready, a handler or a timer");
  }
  detail::RequestOutput& r = requester(port);
  OutgoingEnvelope env =
      new_envelope(r.producer_id(), r.take_seq(), r.channel().name, type, EmitOptions{}, {});
  trace_context(env, std::nullopt);
  return env;
}

void NodeRuntime::finish_request(std::string_view port, std::span<const std::byte> frame,
                                 std::optional<std::chrono::milliseconds> timeout,
                                 ReplyFn on_reply) {
  detail::RequestOutput& r = requester(port);
  check_frame_size(r.channel(), frame.size());
  EnvelopeView env;
  (void)decode_envelope(frame, Limits{}, env);  // just encoded: only its seq is needed
  const auto deadline = Clock::now() + timeout.value_or(r.channel().timeout);
  r.send(env.id.seq, zmq::message_t(frame.data(), frame.size()), deadline,
         [this, fn = std::move(on_reply), p = std::string(port)](const EnvelopeView* reply,
                                                                 std::string_view error) {
           try {
             if (reply == nullptr) {
               fn(nullptr, error);
               return;
             }
             const Message m = make_message(*reply, p, payload_decoder_);
             fn(&m, {});
           } catch (const std::exception& e) {
             std::uint64_t suppressed = 0;
             if (callback_log_.allow(suppressed)) {
               BROOK_LOG(kError) << "reply callback of request port '" << p
                                 << "' threw: " << e.what();
             }
           }
         });
}

void NodeRuntime::serve_request(detail::RequestServer& server, const RequestFn& fn,
                                const EnvelopeView& env, std::shared_ptr<detail::ReplySlot> slot) {
  if (stopping_) last_input_ = Clock::now();
  // Emits continue the request's trace and leave at once (nothing retries a request).
  Handling h{env, nullptr, false};
  const bool traced = env.sampled() && tracer_;
  std::int64_t start_ns = 0;
  Clock::time_point started{};
  if (env.sampled()) h.span = trace_ids_.next_span();
  if (traced) {
    start_ns = wall_clock_ns();
    started = Clock::now();
  }
  Handling* outer = handling_;
  handling_ = &h;
  try {
    fn(make_message(env, server.port(), payload_decoder_), std::move(slot));
  } catch (const std::exception& e) {
    handling_ = outer;
    if (traced) {
      record_handling(env, h.span, start_ns, started, detail::SpanOutcome::kError, e.what());
    }
    throw;  // the server fails the request with what() and counts it
  } catch (...) {
    handling_ = outer;
    throw;
  }
  handling_ = outer;
  if (traced) record_handling(env, h.span, start_ns, started, detail::SpanOutcome::kOk, {});
}

void NodeRuntime::watch_request_ports() {
  detail::ReaderOptions data;
  data.group = detail::ReactorGroup::kData;  // runs handlers
  data.recheck_always = true;                // replies are sent on it from anywhere
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    detail::RequestServer& s = *servers_[i];
    const RequestFn& fn = request_handlers_[i];
    s.handler() = [this, &s, &fn](const EnvelopeView& env,
                                  std::shared_ptr<detail::ReplySlot> slot) {
      serve_request(s, fn, env, std::move(slot));
    };
    server_readers_.push_back(reactor_.add_socket(
        s.socket(), ZMQ_POLLIN, [&s](short) { s.on_readable(); }, data));
    reactor_.add_socket(zmq::socket_ref(zmq::from_handle, s.monitor_socket()), ZMQ_POLLIN,
                        [&s](short) { s.on_monitor_event(); });
    watch_accept_guard(s.accept_guard());
  }
}

// ---- directory events ----------------------------------------------------------------------

std::string NodeRuntime::view_key(const DirectoryEntry& e) const {
  return e.instance_name() + "@" + e.incarnation + "|" + e.reg.channel + "|" +
         std::string(to_string(e.reg.direction)) + "|" + e.reg.endpoint + "|" + e.reg.port;
}

void NodeRuntime::entry_added(const DirectoryEntry& e) {
  // With several directories the same entry arrives once from each; act on the first.
  if (++view_[view_key(e)] != 1) return;
  const ChannelSpec* ch = topology_.channel(e.reg.channel);
  if (ch == nullptr) return;  // a channel this topology does not have: not ours to use
  if (ch->pattern != e.reg.pattern) {
    BROOK_LOG(kWarn) << e.instance_name() << " registered channel '" << ch->name << "' as "
                     << to_string(e.reg.pattern) << " but this topology says "
                     << to_string(ch->pattern) << "; ignoring it (are both using the same "
                     << "topology file?)";
    return;
  }
  if (e.reg.direction == Direction::kIn && e.reg.pattern == Pattern::kRequest) {
    for (auto& r : requesters_) {
      if (r->channel().name == e.reg.channel) r->consumer_added(e);
    }
  } else if (e.reg.direction == Direction::kIn) {
    for (auto& out : outputs_) {
      if (out->channel().name == e.reg.channel) out->consumer_added(e);
    }
  } else if (e.reg.pattern == Pattern::kPubsub) {
    for (auto& in : inputs_) {
      if (in->channel().name == e.reg.channel) in->publisher_added(e);
    }
  }
}

void NodeRuntime::entry_removed(const DirectoryEntry& e) {
  auto it = view_.find(view_key(e));
  if (it == view_.end() || --it->second > 0) return;
  view_.erase(it);
  if (e.reg.direction == Direction::kIn && e.reg.pattern == Pattern::kRequest) {
    for (auto& r : requesters_) {
      if (r->channel().name == e.reg.channel) r->consumer_removed(e);
    }
  } else if (e.reg.direction == Direction::kIn) {
    for (auto& out : outputs_) {
      if (out->channel().name == e.reg.channel) out->consumer_removed(e);
    }
  } else {
    for (auto& in : inputs_) {
      if (in->channel().name == e.reg.channel) in->publisher_removed(e);
    }
  }
}

void NodeRuntime::registered(const std::string&) {
  registered_once_ = true;
}

void NodeRuntime::name_taken(const std::string& why) {
  BROOK_LOG(kError) << why;
  exit_code_ = 1;
  stop_.request_stop();
}

NodeCounters NodeRuntime::heartbeat_counters() {
  const auto now = Clock::now();
  counters_.uptime_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now - started_).count());
  // The lag of each at-least-once output: the age of its oldest unacknowledged message.
  for (auto& out : outputs_) {
    const auto since = out->oldest_unacked_since();
    out->counters().lag_ms =
        since >= now
            ? 0
            : static_cast<std::uint64_t>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(now - since).count());
  }
  return counters_;
}

}  // namespace brook
