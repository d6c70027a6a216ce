// Warnings that need more than one hop of the topology (docs/topology.md, "Cross-hop warnings"):
// acknowledgement chains longer than an ack_timeout, order_by that cannot hold, and pubsub
// channels feeding nodes that need every message. Warnings only: each rule reasons about the
// worst case, which a topology may accept knowingly.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "topology/decode.hpp"

namespace brook::detail {

namespace {

using std::chrono::milliseconds;

// Saturating: max_attempts and durations can be large enough to overflow a product.
milliseconds add(milliseconds a, milliseconds b) {
  constexpr auto kMax = std::numeric_limits<milliseconds::rep>::max();
  if (a.count() > kMax - b.count()) return milliseconds(kMax);
  return a + b;
}

std::string show(milliseconds d) {
  if (d.count() < 1000) return std::to_string(d.count()) + "ms";
  std::string s = std::to_string(d.count() / 1000);
  if (const auto frac = d.count() % 1000; frac != 0) {
    std::string f = std::to_string(1000 + frac).substr(1);
    while (f.back() == '0')
      f.pop_back();
    s += "." + f;
  }
  return s + "s";
}

// The longest a failing handler's attempts wait in all (runtime/handling.cpp, RetryBackoff):
// initial, doubling up to max, between max_attempts calls; jitter draws each in [d/2, d], so d.
milliseconds retry_schedule(const ChannelSpec::Retry& r) {
  milliseconds total{0};
  milliseconds delay = r.initial;
  for (int i = 1; i < r.max_attempts; ++i) {
    if (delay >= r.max) {
      const auto rest = static_cast<milliseconds::rep>(r.max_attempts - i);
      if (r.max.count() > 0 && rest > std::numeric_limits<milliseconds::rep>::max() / r.max.count())
        return milliseconds(std::numeric_limits<milliseconds::rep>::max());
      return add(total, r.max * rest);
    }
    total = add(total, delay);
    delay = std::min(delay * 2, r.max);
  }
  return total;
}

// A channel whose messages some node acknowledges: emitting to it can hold the emitter's input.
bool acknowledged(const Topology& t, const ChannelSpec* c) {
  return c != nullptr && c->reliable() && !t.consumers(c->name).empty();
}

struct Hop {
  const NodeSpec* node = nullptr;  // the consuming node whose handler holds the ack
  const ChannelSpec* channel = nullptr;
  bool dead_letter = false;  // reached as the previous channel's dead_letter
};

// The worst time until a channel's message is acknowledged, counting retry waits only: its own
// schedule, then (chained acknowledgement, runtime/delivery_tracker.hpp) the worst of what the
// consuming handler emits to outputs without a journal or sends as a dead letter.
struct AckChain {
  milliseconds total{0};
  const NodeSpec* group = nullptr;  // the consuming node that waits longest
  std::vector<Hop> downstream;      // the chain behind that wait, in order
};

class AckChains {
 public:
  explicit AckChains(const Topology& t) : t_(t) {}

  const AckChain& of(const ChannelSpec& c) {
    auto& state = state_[c.name];
    if (state == State::kDone || state == State::kVisiting) return chains_[c.name];
    // A cycle's back edge adds nothing: the chain stops where it would repeat.
    state = State::kVisiting;
    AckChain best;
    const milliseconds own = retry_schedule(c.retry);
    best.total = own;
    for (const NodeSpec* n : t_.consumers(c.name)) {
      // Without a longer chain, name the group a re-send hurts most: one with replicas.
      if (best.group == nullptr || (best.downstream.empty() && n->replicas > best.group->replicas))
        best.group = n;
      auto consider = [&](const ChannelSpec* next, bool dead_letter) {
        if (!acknowledged(t_, next) || state_[next->name] == State::kVisiting) return;
        const AckChain& sub = of(*next);
        const milliseconds total = add(own, sub.total);
        if (total <= best.total) return;
        best.total = total;
        best.group = n;
        best.downstream.assign(1, Hop{n, next, dead_letter});
        best.downstream.insert(best.downstream.end(), sub.downstream.begin(), sub.downstream.end());
      };
      for (const auto& p : n->outputs) {
        if (!p.durable) consider(t_.channel(p.channel), false);  // a journal ends the chain
      }
      if (!c.dead_letter.empty()) consider(t_.channel(c.dead_letter), true);
    }
    state = State::kDone;
    return chains_[c.name] = std::move(best);
  }

 private:
  enum class State { kUnvisited, kVisiting, kDone };
  const Topology& t_;
  std::map<std::string, State> state_;
  std::map<std::string, AckChain> chains_;
};

milliseconds suggested_timeout(milliseconds worst) {
  const milliseconds margin = std::max(milliseconds(1000), worst / 4);
  const milliseconds raw = add(worst, margin);
  return milliseconds((raw.count() + 999) / 1000 * 1000);
}

void check_ack_chains(const Topology& t, DiagnosticSink& sink) {
  AckChains chains(t);
  for (const auto& c : t.channels) {
    if (!acknowledged(t, &c)) continue;
    const AckChain& chain = chains.of(c);
    if (chain.total < c.ack_timeout) continue;
    const milliseconds own = retry_schedule(c.retry);
    std::string path;
    if (own.count() > 0) path += " its own retry schedule (" + show(own) + ")";
    for (const Hop& h : chain.downstream) {
      path += path.empty() ? " " : ", then ";
      path += "node '" + h.node->name + "' " +
              (h.dead_letter ? "dead-letters to '" : "emits to '") + h.channel->name + "'";
      const milliseconds schedule = retry_schedule(h.channel->retry);
      if (schedule.count() > 0) path += " (retry schedule " + show(schedule) + ")";
    }
    const std::string effect =
        chain.group->replicas > 1
            ? "another replica of node '" + chain.group->name + "' handles it again"
            : "node '" + chain.group->name + "' ignores the re-send";
    std::string fixes = "raise ack_timeout of '" + c.name + "' to " +
                        show(suggested_timeout(chain.total)) + ", shorten the retry schedules";
    if (!chain.downstream.empty())
      fixes += ", or make the output durable (a journal ends the chain)";
    sink.warning(c.where,
                 "channel '" + c.name + "' (ack_timeout " + show(c.ack_timeout) +
                     "): an acknowledgement can wait " + show(chain.total) +
                     " of retry backoff alone, before any handler time:" + path +
                     "; the producer re-sends meanwhile and " + effect,
                 fixes);
  }
}

void check_order_by(const Topology& t, DiagnosticSink& sink) {
  for (const auto& c : t.channels) {
    if (!c.order_by_key || c.retry.max_attempts <= 1) continue;
    sink.warning(c.where,
                 "channel '" + c.name + "' has order_by: key and retry max_attempts " +
                     std::to_string(c.retry.max_attempts) +
                     ": while a message waits for its retry, later messages of its key overtake it",
                 "use retry max_attempts: 1 where order matters more than retries, or drop "
                 "order_by");
  }
  // Order is per producer, and each replica is one: a relay whose replicas share an unordered
  // input spreads a key's messages over several producers of the ordered channel.
  for (const auto& n : t.nodes) {
    if (n.replicas <= 1) continue;
    const PortSpec* unordered = nullptr;
    for (const auto& p : n.inputs) {
      const ChannelSpec* in = t.channel(p.channel);
      if (in != nullptr && in->pattern == Pattern::kPipeline && !in->order_by_key) unordered = &p;
    }
    if (unordered == nullptr) continue;
    for (const auto& p : n.outputs) {
      const ChannelSpec* out = t.channel(p.channel);
      if (out == nullptr || !out->order_by_key) continue;
      sink.warning(p.where,
                   "output '" + p.port + "' of node '" + n.name + "' writes '" + out->name +
                       "' (order_by: key), but its " + std::to_string(n.replicas) +
                       " replicas share input '" + unordered->channel +
                       "' without order_by: a key's messages are emitted by different replicas, "
                       "and order holds only per producer",
                   "add order_by: key to '" + unordered->channel +
                       "' (emitting with the same key), or run one replica of '" + n.name + "'");
    }
  }
}

bool is_store(const NodeSpec& n) {
  const std::string program = std::filesystem::path(n.exec).filename().string();
  return program == "brook-dead-letters";
}

void check_pubsub_feeds(const Topology& t, DiagnosticSink& sink) {
  for (const auto& n : t.nodes) {
    const auto durable = std::find_if(n.outputs.begin(), n.outputs.end(),
                                      [](const PortSpec& p) { return p.durable; });
    if (durable == n.outputs.end() && !is_store(n)) continue;
    const std::string why = durable != n.outputs.end()
                                ? "its output '" + durable->port + "' is durable"
                                : "it keeps a store (" + n.exec + ")";
    for (const auto& p : n.inputs) {
      const ChannelSpec* c = t.channel(p.channel);
      if (c == nullptr || c->pattern != Pattern::kPubsub) continue;
      sink.warning(p.where,
                   "input '" + p.port + "' of node '" + n.name + "' reads pubsub channel '" +
                       c->name + "', but the node needs every message (" + why +
                       "); a subscriber that is not connected misses messages (counted in gaps)",
                   "give node '" + n.name +
                       "' its own pipeline channel (at-least-once) from the producers of '" +
                       c->name + "'");
    }
  }
  for (const auto& c : t.channels) {
    const ChannelSpec* d = c.dead_letter.empty() ? nullptr : t.channel(c.dead_letter);
    if (d == nullptr || d == &c || d->reliable() || t.consumers(c.name).empty()) continue;
    sink.warning(c.where,
                 "channel '" + c.name + "' sends dead letters to '" + d->name + "', which is " +
                     (d->pattern == Pattern::kPubsub ? "pubsub" : "best-effort") +
                     ": a failed message is acknowledged without waiting for its dead letter, "
                     "which is lost when no reader is connected",
                 "make '" + d->name + "' an at-least-once pipeline channel");
  }
}

}  // namespace

void check_cross_hops(const Topology& t, DiagnosticSink& sink) {
  check_ack_chains(t, sink);
  check_order_by(t, sink);
  check_pubsub_feeds(t, sink);
}

}  // namespace brook::detail
