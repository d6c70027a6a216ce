#include "runtime/output_port.hpp"

#include <brook/error.hpp>
#include <brook/log.hpp>

#include "runtime/best_effort_sender.hpp"
#include "runtime/reliable_sender.hpp"

namespace brook::detail {

OutputPort::OutputPort(zmq::context_t& context, const PortSpec& port, const ChannelSpec& channel,
                       const Topology& topology, std::string producer_id,
                       std::chrono::milliseconds linger, ChannelCounters& counters,
                       const Security& security, std::unique_ptr<OutputJournal> journal)
    : port_(port.port),
      channel_(&channel),
      producer_id_(std::move(producer_id)),
      linger_(linger),
      counters_(counters),
      security_(security),
      context_(context),
      journal_(std::move(journal)) {
  for (const NodeSpec* n : topology.consumers(channel.name))
    declared_.insert(n->name);
  if (channel.pattern == Pattern::kPubsub) {
    publisher_ = std::make_unique<Publisher>(context, channel, producer_id_, linger, security_);
  } else {
    // Declared groups exist from the start so messages emitted before any replica is known are
    // held for them rather than lost.
    for (const auto& node : declared_) {
      groups_[node] = make_sender(node, false);
    }
  }
  if (journal_) replay_journal();
}

std::unique_ptr<GroupSender> OutputPort::make_sender(const std::string& node, bool tap) const {
  // A tap takes best-effort copies whatever the channel's delivery.
  if (channel_->reliable() && !tap) {
    return std::make_unique<ReliableSender>(context_, *channel_, node, linger_, counters_,
                                            security_);
  }
  return std::make_unique<BestEffortSender>(context_, *channel_, node, tap, linger_, counters_,
                                            security_);
}

void OutputPort::replay_journal() {
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
  update_pending_gauge();
  journal_low_water();
}

void OutputPort::journal_low_water() {
  std::uint64_t low = next_seq_;
  for (const auto& [key, g] : groups_) {
    if (g->tap()) continue;
    if (const std::uint64_t oldest = g->oldest_unacked(); oldest != 0) low = std::min(low, oldest);
  }
  journal_->acknowledged_below(low);
}

Registration OutputPort::registration() const {
  return Registration{channel_->name, Direction::kOut, channel_->pattern, "", port_, false};
}

bool OutputPort::consumer_added(const DirectoryEntry& e) {
  if (publisher_) {
    publisher_->add_subscriber(e);
    return false;
  }
  const bool declared = declared_.count(e.node) > 0;
  if (!declared && !e.reg.tap) {
    if (warned_.insert(e.node).second) {
      BROOK_LOG(kWarn) << "ignoring " << e.instance_name() << ": it reads '" << channel_->name
                       << "' but the topology does not list it as a consumer";
    }
    return false;
  }
  // A tap gets its own group keyed apart from real nodes of the same name.
  const std::string key = e.reg.tap ? "~tap/" + e.instance_name() : e.node;
  auto it = groups_.find(key);
  bool created = false;
  if (it == groups_.end()) {
    it = groups_.emplace(key, make_sender(e.node, e.reg.tap)).first;
    created = true;
  }
  it->second->add_replica(e);
  return created;
}

void OutputPort::consumer_removed(const DirectoryEntry& e) {
  if (publisher_) {
    publisher_->remove_subscriber(e);
    return;
  }
  const std::string key = e.reg.tap ? "~tap/" + e.instance_name() : e.node;
  if (auto it = groups_.find(key); it != groups_.end()) it->second->remove_replica(e);
}

bool OutputPort::make_room(GroupSender& g, const WaitFn& wait) {
  (void)g.flush();
  if (g.pending() < channel_->max_pending) return true;
  ++counters_.backpressure;
  switch (channel_->on_full) {
    case OnFull::kDrop:
      return false;
    case OnFull::kFail:
      throw BackpressureError("channel '" + channel_->name + "': consumer group '" + g.node() +
                              "' has " + std::to_string(g.pending()) +
                              " messages pending (max_pending); on_full is fail");
    case OnFull::kBlock: {
      const auto deadline = std::chrono::steady_clock::now() + channel_->block_timeout;
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
      return true;
    }
  }
  return false;
}

void OutputPort::track(std::uint64_t seq, std::uint64_t token, std::size_t groups) {
  children_[seq] = Child{token, groups};
}

void OutputPort::socket_ready(GroupSender& g) {
  if (!on_acked_) {
    on_acked_ = [this](std::uint64_t seq) {
      const auto it = children_.find(seq);
      if (it == children_.end()) return;
      const std::uint64_t token = it->second.token;
      if (--it->second.groups_left == 0) children_.erase(it);
      if (child_done_) child_done_(token);
    };
  }
  counters_.sent += g.on_socket_ready(on_acked_);
  update_pending_gauge();
  if (journal_) journal_low_water();
}

std::size_t OutputPort::send(std::span<const std::byte> frame, const WaitFn& wait,
                             std::uint64_t key_hash) {
  const std::uint64_t seq = next_seq_;
  if (publisher_) {
    zmq::message_t msg(frame.data(), frame.size());
    publisher_->send_to_taps(msg);
    Offer r = publisher_->offer(seq, msg);
    if (r == Offer::kFull) {
      ++counters_.backpressure;
      if (channel_->on_full == OnFull::kFail) {
        throw BackpressureError("channel '" + channel_->name +
                                "': " + std::to_string(publisher_->pending()) +
                                " messages pending for slow subscribers; on_full is fail");
      }
      if (channel_->on_full == OnFull::kBlock) {
        const auto deadline = std::chrono::steady_clock::now() + channel_->block_timeout;
        const bool ok = wait(
            [&] {
              (void)publisher_->flush();
              return publisher_->pending() < channel_->max_pending;
            },
            deadline);
        if (!ok) {
          throw BackpressureError("channel '" + channel_->name +
                                  "': subscribers took nothing for " +
                                  std::to_string(channel_->block_timeout.count()) +
                                  " ms; a subscriber is stalled (XPUB_NODROP holds every "
                                  "subscriber to the slowest)");
        }
        r = publisher_->offer(seq, msg);
      }
      if (r == Offer::kFull) {
        ++counters_.dropped;
      }
    }
    if (r == Offer::kSent) ++counters_.sent;
    ++next_seq_;
    update_pending_gauge();
    return 0;
  }

  // Pipeline: check room in every real group first, so `fail` rejects the message before any
  // group got it, and `block` waits for the slowest group before sending to all.
  for (auto& [key, g] : groups_) {
    if (!g->tap()) (void)make_room(*g, wait);
  }
  // Accepted from here on: journaled before any consumer can see (and acknowledge) it.
  if (journal_) journal_->append(seq, key_hash, frame);
  zmq::message_t original(frame.data(), frame.size());
  std::size_t remaining = groups_.size();
  std::size_t reliable_takers = 0;
  for (auto& [key, g] : groups_) {
    --remaining;
    zmq::message_t copy;
    zmq::message_t& msg = remaining == 0 ? original : copy;
    if (remaining != 0) copy.copy(original);
    const Offer r = g->offer(msg, seq, key_hash);
    if (r != Offer::kFull && g->acknowledges()) ++reliable_takers;
    if (r == Offer::kSent) {
      if (!g->tap()) ++counters_.sent;
    } else if (r == Offer::kFull && !g->tap()) {
      ++counters_.dropped;  // on_full: drop (make_room said no room)
    }
  }
  ++next_seq_;
  update_pending_gauge();
  return reliable_takers;
}

void OutputPort::flush() {
  std::size_t sent = 0;
  if (publisher_) {
    sent += publisher_->flush();
  } else {
    for (auto& [key, g] : groups_) {
      if (g->pending() > 0) sent += g->flush();
    }
  }
  counters_.sent += sent;
  update_pending_gauge();
}

bool OutputPort::has_pending() const {
  if (publisher_) return publisher_->has_work();
  for (const auto& [key, g] : groups_) {
    // Unacknowledged messages count: at shutdown a producer waits for them (within linger).
    if (g->pending() > 0 || g->in_flight() > 0) return true;
  }
  return false;
}

std::chrono::steady_clock::time_point OutputPort::next_wakeup() const {
  auto wake = std::chrono::steady_clock::time_point::max();
  for (const auto& [key, g] : groups_)
    wake = std::min(wake, g->next_wakeup());
  return wake;
}

void OutputPort::tick(std::chrono::steady_clock::time_point now) {
  bool due = false;
  for (auto& [key, g] : groups_) {
    if (g->next_wakeup() > now) continue;
    g->tick(now);
    due = true;
  }
  if (due) flush();
}

void OutputPort::update_pending_gauge() {
  std::uint64_t p = 0;
  std::uint64_t f = 0;
  if (publisher_) {
    p = publisher_->pending();
  } else {
    for (const auto& [key, g] : groups_) {
      p += g->pending();
      f += g->in_flight();
    }
  }
  counters_.pending = p;
  counters_.in_flight = f;
}

bool OutputPort::ready() const {
  if (publisher_) {
    for (const auto& node : declared_) {
      if (!publisher_->node_welcomed(node)) return false;
    }
    return publisher_->all_welcomed();
  }
  for (const auto& [key, g] : groups_) {
    if (g->tap()) continue;
    if (declared_.count(g->node()) && g->connected_replicas() == 0) return false;
    if (g->known_replicas() > 0 && !g->all_connected()) return false;
  }
  return true;
}

std::string OutputPort::readiness() const {
  std::string s;
  auto add = [&](const std::string& part) {
    if (!s.empty()) s += "; ";
    s += part;
  };
  if (publisher_) {
    for (const auto& node : declared_) {
      if (!publisher_->node_welcomed(node)) add("no instance of '" + node + "' subscribed");
    }
    if (s.empty() && !publisher_->all_welcomed()) add("some subscribers not yet subscribed");
    return s;
  }
  for (const auto& [key, g] : groups_) {
    if (g->tap()) continue;
    if (g->known_replicas() == 0) {
      add("no replica of '" + g->node() + "' registered");
    } else if (!g->all_connected()) {
      add("'" + g->node() + "' " + std::to_string(g->connected_replicas()) + "/" +
          std::to_string(g->known_replicas()) + " replicas connected");
    }
  }
  return s;
}

void OutputPort::open() {
  if (publisher_) publisher_->open();
}

}  // namespace brook::detail
