// NodeRuntime set-up, the emit path and directory events. The loop itself is in node_loop.cpp.
#include "runtime/node_runtime.hpp"

#include <unistd.h>

#include <brook/error.hpp>
#include <brook/log.hpp>

namespace brook {

NodeRuntime::NodeRuntime(NodeOptions options)
    : NodeEngine(std::move(options), random_id()), context_(1), stop_(options_.handle_signals) {
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

  for (const auto& port : spec_->inputs) {
    const ChannelSpec* ch = topology_.channel(port.channel);
    inputs_.push_back(std::make_unique<detail::InputPort>(context_, port, *ch, options_.advertise,
                                                          producer_id_, options_.observer, linger_,
                                                          counters_.channels[ch->name], security_));
  }
  for (const auto& port : spec_->outputs) {
    const ChannelSpec* ch = topology_.channel(port.channel);
    std::unique_ptr<detail::OutputJournal> journal;
    std::string producer = producer_id_;
    if (port.durable && !options_.observer) {
      journal = std::make_unique<detail::OutputJournal>(
          topology_.state_dir / topology_.name / instance_name_ / port.port, port.fsync);
      // The same for every incarnation of this instance's journal: consumers then recognise
      // what it re-sends after a crash.
      producer = instance_name_ + "@j" + journal->id();
    }
    outputs_.push_back(std::make_unique<detail::OutputPort>(
        context_, port, *ch, topology_, producer, linger_, counters_.channels[ch->name], security_,
        std::move(journal)));
    outputs_.back()->set_child_done([this](std::uint64_t token) { child_done(token); });
  }
  // Channels this node reads that name a dead-letter channel get an implicit output to it.
  for (const auto& port : spec_->inputs) {
    const ChannelSpec* ch = topology_.channel(port.channel);
    if (ch->dead_letter.empty() || options_.observer || dead_letter_out_.count(ch->name)) continue;
    const ChannelSpec* dl = topology_.channel(ch->dead_letter);
    if (dl == nullptr) continue;
    PortSpec dl_port;
    dl_port.port = "~dead-letter:" + ch->name;
    dl_port.channel = dl->name;
    dl_port.where = port.where;
    outputs_.push_back(
        std::make_unique<detail::OutputPort>(context_, dl_port, *dl, topology_, producer_id_,
                                             linger_, counters_.channels[dl->name], security_));
    outputs_.back()->set_child_done([this](std::uint64_t token) { child_done(token); });
    dead_letter_out_[ch->name] = outputs_.size() - 1;
  }
  wait_fn_ = [this](const std::function<bool()>& done, Clock::time_point deadline) {
    return wait_until(done, deadline);
  };
}

NodeRuntime::~NodeRuntime() {
  close_all();
}

void NodeRuntime::check_loop_thread(const char* what) const {
  if (running_ && std::this_thread::get_id() != loop_thread_) {
    throw ConfigError(std::string(what) +
                      " called from a thread other than the node's loop thread; call it from a "
                      "handler, timer or on_ready callback");
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
  no_input_port(port);
}

std::size_t NodeRuntime::output_index(std::string_view port) const {
  for (std::size_t i = 0; i < outputs_.size(); ++i) {
    if (outputs_[i]->port() == port) return i;
  }
  no_output_port(port);
}

OutgoingEnvelope NodeRuntime::begin_emit(std::size_t output, std::string_view type,
                                         const EmitOptions& o) {
  check_loop_thread("emit()");
  auto& out = *outputs_[output];
  // A message emitted while handling another continues its trace.
  const OutgoingEnvelope env =
      new_envelope(out.producer_id(), out.next_seq(), out.channel().name, type, o,
                   current_ != nullptr ? current_->trace : trace_ids_.next());
  // Remembered for finish_emit, which picks the replica from it; only order_by channels pay.
  emit_key_hash_ = o.key && out.channel().order_by_key ? detail::key_hash(*o.key) : 0;
  return env;
}

void NodeRuntime::finish_emit(std::size_t output, std::span<const std::byte> frame) {
  auto& out = *outputs_[output];
  check_frame_size(out.channel(), frame.size());
  if (!running_) {
    throw ConfigError("emit() before run(): emit from on_ready, a handler or a timer");
  }
  const std::uint64_t seq = out.next_seq();
  const std::size_t takers = out.send(frame, wait_fn_, emit_key_hash_);
  ++out.counters().emitted;
  // A durable output's journal holds the message from here on, so the input that caused it
  // need not wait for downstream acknowledgements (chained acks are for outputs without one).
  if (takers > 0 && current_in_ != nullptr && !out.durable()) {
    if (current_token_ == 0) {
      current_token_ = next_token_++;
      Deferred& d = deferred_[current_token_];
      d.in = current_in_;
      d.peer = current_in_->peer();
      d.producer = std::string(current_->id.producer);
      d.seq = current_->id.seq;
    }
    deferred_[current_token_].outstanding += takers;
    out.track(seq, current_token_, takers);
  }
}

void NodeRuntime::child_done(std::uint64_t token) {
  const auto it = deferred_.find(token);
  if (it == deferred_.end()) return;
  Deferred& d = it->second;
  if (d.outstanding > 0) --d.outstanding;
  if (d.outstanding == 0 && d.handler_done) {
    d.in->ack_deferred(d.peer, d.producer, d.seq);
    deferred_.erase(it);
  }
}

TimerId NodeRuntime::add_timer(std::chrono::milliseconds delay, std::chrono::milliseconds period,
                               bool periodic, std::function<void()> fn) {
  check_loop_thread("every()/after()");
  return timers_.add(Clock::now() + delay, period, periodic, std::move(fn));
}

void NodeRuntime::cancel_timer(TimerId id) {
  check_loop_thread("cancel()");
  timers_.cancel(id);
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
  if (e.reg.direction == Direction::kIn) {
    for (auto& out : outputs_) {
      if (out->channel().name == e.reg.channel && out->consumer_added(e)) ++generation_;
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
  if (e.reg.direction == Direction::kIn) {
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

NodeCounters NodeRuntime::heartbeat_counters() {
  counters_.uptime_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count());
  return counters_;
}

}  // namespace brook
