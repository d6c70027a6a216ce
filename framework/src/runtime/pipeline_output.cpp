#include "runtime/pipeline_output.hpp"

#include <brook/error.hpp>
#include <brook/log.hpp>

#include "runtime/best_effort_sender.hpp"
#include "runtime/reliable_sender.hpp"

namespace brook::detail {

PipelineOutput::PipelineOutput(Reactor& reactor, zmq::context_t& context, const PortSpec& port,
                               const ChannelSpec& channel, const Topology& topology,
                               std::string producer_id, std::chrono::milliseconds linger,
                               ChannelCounters& counters, const Security& security,
                               std::unique_ptr<OutputJournal> journal, AckedFn acked)
    : OutputPort(reactor, port, channel, std::move(producer_id), counters),
      context_(context),
      linger_(linger),
      security_(security),
      journal_(std::move(journal)),
      acked_(std::move(acked)),
      tap_refuser_(context, security, channel, producer_id_, kMaxTapsPerChannel) {
  for (const NodeSpec* n : topology.consumers(channel.name))
    declared_.insert(n->name);
  // Declared groups exist from the start so messages emitted before any replica is known are
  // held for them rather than lost.
  for (const auto& node : declared_)
    add_group(node, node, false);
  watch_source([this] { return next_wakeup(); }, [this](Clock::time_point now) { tick(now); });
  if (journal_) replay_journal();
}

GroupSender& PipelineOutput::add_group(const std::string& key, const std::string& node, bool tap) {
  std::unique_ptr<GroupSender> g;
  // A tap takes best-effort copies whatever the channel's delivery.
  if (channel_->reliable() && !tap) {
    g = std::make_unique<ReliableSender>(context_, *channel_, node, linger_, counters_, security_);
  } else {
    g = std::make_unique<BestEffortSender>(context_, *channel_, node, tap, linger_, counters_,
                                           security_);
  }
  GroupSender& s = *g;
  groups_.emplace(key, std::move(g));
  list_senders();
  const auto monitor = watch_socket(
      zmq::socket_ref(zmq::from_handle, s.monitor_socket()), [] { return short{ZMQ_POLLIN}; },
      [this, &s](short) {
        s.on_monitor_event();
        flush();  // a replica that just connected can take what was held
      },
      false);
  const auto socket = watch_socket(
      s.socket(), [&s] { return s.interest(); }, [this, &s](short) { socket_ready(s); }, true);
  readers_of_[key] = {monitor, socket};
  return s;
}

void PipelineOutput::remove_group(const std::string& key) {
  const auto it = groups_.find(key);
  if (it == groups_.end()) return;
  const auto [monitor, socket] = readers_of_.at(key);
  unwatch(monitor);
  unwatch(socket);
  readers_of_.erase(key);
  // Best-effort copies for a tap that left: nothing to linger for.
  it->second->socket().set(zmq::sockopt::linger, 0);
  groups_.erase(it);
  list_senders();
  update_gauges();
}

void PipelineOutput::list_senders() {
  ++senders_listed_;
  senders_.clear();
  for (const auto& [key, g] : groups_)
    senders_.push_back(g.get());
}

std::size_t PipelineOutput::taps() const {
  std::size_t n = 0;
  for (const auto& [key, g] : groups_)
    n += g->tap() ? 1 : 0;
  return n;
}

void PipelineOutput::replay_journal() {
  next_seq_ = journal_->next_seq();
  // Every declared consumer gets each one again; a node that had already handled it recognises
  // it (same producer id and number) and only acknowledges it.
  const std::size_t n = journal_->replay([&](const OutputJournal::Record& r) {
    for (auto& [key, g] : groups_) {
      zmq::message_t msg(r.frame.data(), r.frame.size());
      (void)g->offer(msg, r.seq, r.key_hash, true);
    }
  });
  counters_.redelivered += n;
  update_gauges();
  journal_low_water();
}

void PipelineOutput::journal_low_water() {
  std::uint64_t low = next_seq_;
  for (const auto& [key, g] : groups_) {
    if (g->tap()) continue;
    if (const std::uint64_t oldest = g->oldest_unacked(); oldest != 0) low = std::min(low, oldest);
  }
  journal_->acknowledged_below(low);
}

void PipelineOutput::consumer_added(const DirectoryEntry& e) {
  if (!declared_.count(e.node) && !e.reg.tap) {
    if (warned_.insert(e.node).second) {
      BROOK_LOG(kWarn) << "ignoring " << e.instance_name() << ": it reads '" << channel_->name
                       << "' but the topology does not list it as a consumer";
    }
    return;
  }
  // A tap gets its own group keyed apart from real nodes of the same name.
  const std::string key = e.reg.tap ? "~tap/" + e.instance_name() : e.node;
  const auto it = groups_.find(key);
  if (it == groups_.end() && e.reg.tap && !admit_tap(e, taps(), tap_refuser_)) return;
  GroupSender& g = it != groups_.end() ? *it->second : add_group(key, e.node, e.reg.tap);
  g.add_replica(e);
}

void PipelineOutput::consumer_removed(const DirectoryEntry& e) {
  const std::string key = e.reg.tap ? "~tap/" + e.instance_name() : e.node;
  const auto it = groups_.find(key);
  if (it == groups_.end()) return;
  it->second->remove_replica(e);
  // A tap's group lives as long as the tap; a declared node's keeps holding messages for it.
  if (e.reg.tap && it->second->known_replicas() == 0) remove_group(key);
}

void PipelineOutput::make_room(GroupSender& g, const WaitFn& wait) {
  (void)g.flush();
  if (g.pending() < channel_->max_pending) return;
  ++counters_.backpressure;
  switch (channel_->on_full) {
    case OnFull::kDrop:
      return;  // deliver() drops it for this group
    case OnFull::kFail:
      throw BackpressureError("channel '" + channel_->name + "': consumer group '" + g.node() +
                              "' has " + std::to_string(g.pending()) +
                              " messages pending (max_pending); on_full is fail");
    case OnFull::kBlock: {
      const auto deadline = Clock::now() + channel_->block_timeout;
      const bool ok = wait(
          [&] {
            (void)g.flush();
            return g.pending() < channel_->max_pending;
          },
          deadline);
      if (!ok) {
        throw BackpressureError(
            "channel '" + channel_->name + "': consumer group '" + g.node() +
            "' took nothing for " + std::to_string(channel_->block_timeout.count()) + " ms (" +
            std::to_string(g.known_replicas()) + " replicas known, " +
            std::to_string(g.connected_replicas()) + " connected, " + std::to_string(g.pending()) +
            " pending); raise block_timeout or max_pending, or add replicas");
      }
      return;
    }
  }
}

void PipelineOutput::make_room(const WaitFn& wait) {
  // Every real group first, so `fail` rejects the message before any group got it, and `block`
  // waits for the slowest group before sending to all.
  // A wait runs the loop's control work, which may add or remove groups (senders_ changes):
  // then every group is checked again (checking one twice is harmless, skipping one is not).
  for (std::size_t i = 0; i < senders_.size(); ++i) {
    const std::uint64_t listed = senders_listed_;
    if (!senders_[i]->tap()) make_room(*senders_[i], wait);
    if (senders_listed_ != listed) i = static_cast<std::size_t>(-1);  // ++i: from the first
  }
}

std::size_t PipelineOutput::deliver(zmq::message_t& msg, std::uint64_t seq, std::uint64_t key_hash,
                                    bool journaled, std::uint64_t tag) {
  // Accepted from here on: journaled before any consumer can see (and acknowledge) it.
  if (journal_ && !journaled)
    journal_->append(seq, key_hash, {static_cast<const std::byte*>(msg.data()), msg.size()});
  // make_room() admitted it; a handler's output admitted message by message may exceed
  // max_pending by what that handler emitted. Only `drop` turns a full group away.
  const bool force = channel_->on_full != OnFull::kDrop;
  std::size_t remaining = senders_.size();
  std::size_t takers = 0;
  for (GroupSender* g : senders_) {
    // The last group takes the message itself, the others a copy sharing its data; no empty
    // message is made and closed for a single group (two libzmq calls per emit).
    Offer r;
    if (--remaining == 0) {
      r = g->offer(msg, seq, key_hash, force && !g->tap(), tag);
    } else {
      zmq::message_t copy;
      copy.copy(msg);
      r = g->offer(copy, seq, key_hash, force && !g->tap(), tag);
    }
    if (r != Offer::kFull && g->acknowledges()) ++takers;
    if (r == Offer::kSent) {
      if (!g->tap()) ++counters_.sent;
    } else if (r == Offer::kFull && !g->tap()) {
      ++counters_.dropped;
    }
  }
  update_gauges();
  return takers;
}

void PipelineOutput::socket_ready(GroupSender& g) {
  counters_.sent += g.on_socket_ready(acked_);
  if (journal_) journal_low_water();
  flush();
}

void PipelineOutput::flush() {
  std::size_t sent = 0;
  for (GroupSender* g : senders_) {
    if (g->pending() > 0) sent += g->flush();
  }
  counters_.sent += sent;
  update_gauges();
}

bool PipelineOutput::has_pending() const {
  for (const auto& [key, g] : groups_) {
    // Unacknowledged messages count: at shutdown a producer waits for them (within linger).
    if (g->pending() > 0 || g->in_flight() > 0) return true;
  }
  return false;
}

PipelineOutput::Clock::time_point PipelineOutput::oldest_unacked_since() const noexcept {
  auto oldest = Clock::time_point::max();
  for (const auto& [key, g] : groups_) {
    if (!g->tap()) oldest = std::min(oldest, g->oldest_unacked_since());
  }
  return oldest;
}

PipelineOutput::Clock::time_point PipelineOutput::next_wakeup() const {
  auto wake = Clock::time_point::max();
  for (const auto& [key, g] : groups_)
    wake = std::min(wake, g->next_wakeup());
  return wake;
}

void PipelineOutput::tick(Clock::time_point now) {
  bool due = false;
  for (auto& [key, g] : groups_) {
    if (g->next_wakeup() > now) continue;
    g->tick(now);
    due = true;
  }
  if (due) flush();
}

void PipelineOutput::update_gauges() {
  std::uint64_t p = 0;
  std::uint64_t f = 0;
  for (const GroupSender* g : senders_) {
    p += g->pending();
    f += g->in_flight();
  }
  counters_.pending = p;
  counters_.in_flight = f;
}

bool PipelineOutput::ready() const {
  for (const auto& [key, g] : groups_) {
    if (g->tap()) continue;
    if (declared_.count(g->node()) && g->connected_replicas() == 0) return false;
    if (g->known_replicas() > 0 && !g->all_connected()) return false;
  }
  return true;
}

std::string PipelineOutput::readiness() const {
  std::string s;
  for (const auto& [key, g] : groups_) {
    if (g->tap()) continue;
    std::string part;
    if (g->known_replicas() == 0) {
      part = "no replica of '" + g->node() + "' registered";
    } else if (!g->all_connected()) {
      part = "'" + g->node() + "' " + std::to_string(g->connected_replicas()) + "/" +
             std::to_string(g->known_replicas()) + " replicas connected";
    }
    if (part.empty()) continue;
    if (!s.empty()) s += "; ";
    s += part;
  }
  return s;
}

}  // namespace brook::detail
