// Checks that need the whole topology: channel references and how each channel is used.
#include <set>

#include "topology/decode.hpp"

namespace brook::detail {

namespace {

std::vector<std::string> channel_names(const Topology& t) {
  std::vector<std::string> names;
  for (const auto& c : t.channels)
    names.push_back(c.name);
  return names;
}

void check_ports(const Topology& t, const NodeSpec& n, const std::vector<PortSpec>& ports,
                 const std::string& direction, DiagnosticSink& sink) {
  for (const auto& p : ports) {
    if (t.channel(p.channel) != nullptr) continue;
    sink.error(
        p.where,
        direction + " '" + p.port + "' of node '" + n.name + "' uses undeclared channel '" +
            p.channel + "'",
        suggest(p.channel, channel_names(t), "declared channels", "declare it under channels:"));
  }
}

}  // namespace

void check_channel_use(const Decoded& decoded, DiagnosticSink& sink) {
  const Topology& t = decoded.topology;
  for (const auto& n : t.nodes) {
    // Key names: the directory's and the command line tools' keys would be mistaken for the node.
    if (t.security.mechanism == Mechanism::kCurve && is_reserved_key_name(n.name)) {
      sink.error(n.where, "node name '" + n.name + "' is reserved with security: curve",
                 "'directory', 'cli' and 'cli-*' name the directory's and the tools' keys; rename "
                 "the node");
    }
    check_ports(t, n, n.inputs, "input", sink);
    check_ports(t, n, n.outputs, "output", sink);
    for (const auto& p : n.outputs) {
      const ChannelSpec* c = t.channel(p.channel);
      if (!p.durable || c == nullptr) continue;
      const std::string what = "output '" + p.port + "' of node '" + n.name + "' is durable but ";
      if (!c->reliable()) {
        sink.error(p.durable_where,
                   what + "channel '" + c->name + "' is not an at-least-once pipeline channel",
                   "a journal is kept until consumers acknowledge; use pattern: pipeline with "
                   "delivery: at-least-once (the default), or remove durable");
      } else if (c->on_full == OnFull::kDrop) {
        sink.error(p.durable_where, what + "channel '" + c->name + "' has on_full: drop",
                   "a journal keeps what emit accepted; use on_full: block or fail");
      }
    }
  }
  for (const auto& a : decoded.assertions) {
    const ChannelSpec* c = t.channel(a.channel);
    if (c == nullptr || c->pattern == a.pattern) continue;
    sink.error(a.where,
               a.direction + " '" + a.port + "' of node '" + a.node + "' expects a " +
                   std::string(to_string(a.pattern)) + " channel, but channel '" + c->name +
                   "' is " + std::string(to_string(c->pattern)),
               "change the port's pattern, or the channel's pattern at " + c->where.str());
  }
  auto warn = [&](const ChannelSpec& c, std::string message, std::string hint) {
    sink.warning(c.where, std::move(message), std::move(hint));
  };
  // Dead-letter channels are written by the readers of the channels that name them.
  std::set<std::string> dead_letter_written;
  for (const auto& c : t.channels) {
    if (c.dead_letter.empty()) continue;
    if (c.dead_letter == c.name || t.channel(c.dead_letter) == nullptr) {
      sink.error(c.where,
                 "channel '" + c.name + "': dead_letter '" + c.dead_letter +
                     "' is not another channel of this topology",
                 "declare a channel for dead letters, e.g. " + c.name + "-dead: {}");
      continue;
    }
    if (!t.consumers(c.name).empty()) dead_letter_written.insert(c.dead_letter);
  }
  for (const auto& c : t.channels) {
    const auto readers = t.consumers(c.name);
    const bool written = !t.producers(c.name).empty() || dead_letter_written.count(c.name) > 0;
    if (c.pattern == Pattern::kRequest) {
      if (readers.empty()) {
        sink.error(c.where, "request channel '" + c.name + "' has no serving node",
                   "add it to the inputs of the node that answers the requests (and to the "
                   "outputs of the nodes that ask)");
      } else if (!written && !c.external) {
        warn(c, "request channel '" + c.name + "' is served but no node asks",
             "add it to the outputs of the asking node, or mark it external: true for brook call");
      }
      continue;
    }
    if (readers.empty() && !written && !c.external) {
      warn(c, "channel '" + c.name + "' is not used by any node",
           "remove it, or add it to a node's inputs or outputs");
    } else if (readers.empty() && c.pattern == Pattern::kPipeline) {
      warn(c, "channel '" + c.name + "' is written but no node reads it; messages would be held",
           "add it to some node's inputs");
    } else if (readers.empty()) {
      warn(c, "pubsub channel '" + c.name + "' has no subscribers; published messages are dropped",
           "add it to some node's inputs");
    } else if (!written && !c.external && c.pattern == Pattern::kPipeline) {
      for (const NodeSpec* n : readers) {
        for (const auto& p : n->inputs) {
          if (p.channel != c.name) continue;
          sink.error(p.where,
                     "input '" + p.port + "' of node '" + n->name + "' reads pipeline channel '" +
                         c.name + "', which no node writes",
                     "add an output to some node or mark the channel external: true");
        }
      }
    }
  }
}

}  // namespace brook::detail
