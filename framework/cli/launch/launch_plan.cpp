#include "launch/launch_plan.hpp"

#include <algorithm>
#include <functional>
#include <map>

namespace brook::launch {

namespace {

// Who reads and what each node writes, found once: a topology of a thousand nodes would otherwise
// scan every node for every channel of every node.
class Edges {
 public:
  explicit Edges(const Topology& t) {
    std::map<std::string_view, const ChannelSpec*> channels;
    for (const auto& c : t.channels)
      channels.emplace(c.name, &c);
    for (const auto& n : t.nodes) {
      for (const auto& in : n.inputs) {
        auto& r = readers_[in.channel];
        if (r.empty() || r.back() != &n) r.push_back(&n);
      }
    }
    for (const auto& n : t.nodes) {
      // The channels `n` writes: its outputs, and the dead-letter channel of each input that has
      // one (a failed message is emitted there by the consuming node), each once.
      auto& out = written_[&n];
      auto add = [&](const std::string& c) {
        if (!c.empty() && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
      };
      for (const auto& o : n.outputs)
        add(o.channel);
      for (const auto& in : n.inputs) {
        if (const auto c = channels.find(in.channel); c != channels.end())
          add(c->second->dead_letter);
      }
    }
  }
  const std::vector<std::string>& written(const NodeSpec& n) const { return written_.at(&n); }
  const std::vector<const NodeSpec*>& readers(const std::string& channel) const {
    static const std::vector<const NodeSpec*> kNone;
    const auto it = readers_.find(channel);
    return it == readers_.end() ? kNone : it->second;
  }

 private:
  std::map<std::string, std::vector<const NodeSpec*>, std::less<>> readers_;
  std::map<const NodeSpec*, std::vector<std::string>> written_;
};

}  // namespace

std::vector<std::vector<const NodeSpec*>> start_levels(const Topology& t,
                                                       const std::set<std::string>& only) {
  for (const auto& name : only) {
    if (t.node(name) == nullptr) {
      std::string names;
      for (const auto& n : t.nodes)
        names += (names.empty() ? "" : ", ") + n.name;
      throw UsageError("--only: no node '" + name + "' in topology '" + t.name +
                       "' (nodes: " + names + ")");
    }
  }
  auto selected = [&](const NodeSpec& n) { return only.empty() || only.count(n.name) > 0; };
  const Edges edges(t);

  std::map<std::string, int> level;
  std::set<std::string> visiting;
  std::function<int(const NodeSpec&)> height = [&](const NodeSpec& n) -> int {
    if (auto it = level.find(n.name); it != level.end()) return it->second;
    if (!visiting.insert(n.name).second) return -1;  // a cycle: ignore the closing edge
    int h = 0;
    for (const auto& channel : edges.written(n)) {
      for (const NodeSpec* reader : edges.readers(channel)) {
        if (reader == &n || !selected(*reader)) continue;
        const int r = height(*reader);
        if (r >= 0) h = std::max(h, r + 1);
      }
    }
    visiting.erase(n.name);
    level[n.name] = h;
    return h;
  };

  std::vector<std::vector<const NodeSpec*>> levels;
  for (const auto& n : t.nodes) {
    if (!selected(n)) continue;
    const auto h = static_cast<std::size_t>(height(n));
    if (levels.size() <= h) levels.resize(h + 1);
    levels[h].push_back(&n);
  }
  return levels;
}

std::vector<StartStep> start_plan(const Topology& t,
                                  const std::vector<std::vector<const NodeSpec*>>& levels) {
  std::map<const NodeSpec*, std::size_t> level_of;
  for (std::size_t i = 0; i < levels.size(); ++i) {
    for (const NodeSpec* n : levels[i])
      level_of[n] = i;
  }
  const Edges edges(t);
  std::vector<StartStep> plan;
  for (std::size_t i = 0; i < levels.size(); ++i) {
    for (const NodeSpec* n : levels[i]) {
      StartStep step{n, i, {}};
      for (const auto& channel : edges.written(*n)) {
        for (const NodeSpec* reader : edges.readers(channel)) {
          auto it = level_of.find(reader);
          if (it == level_of.end() || it->second >= i) continue;
          if (std::find(step.waits_for.begin(), step.waits_for.end(), reader) ==
              step.waits_for.end()) {
            step.waits_for.push_back(reader);
          }
        }
      }
      plan.push_back(std::move(step));
    }
  }
  return plan;
}

std::set<std::string> channels_downstream_of_jobs(const Topology& t) {
  std::set<std::string> reached;
  std::vector<const NodeSpec*> frontier;
  for (const auto& n : t.nodes) {
    if (n.job) frontier.push_back(&n);
  }
  std::set<std::string> visited;
  const Edges edges(t);
  while (!frontier.empty()) {
    const NodeSpec* n = frontier.back();
    frontier.pop_back();
    if (!visited.insert(n->name).second) continue;
    for (const auto& channel : edges.written(*n)) {
      if (!reached.insert(channel).second) continue;
      for (const NodeSpec* reader : edges.readers(channel))
        frontier.push_back(reader);
    }
  }
  return reached;
}

}  // namespace brook::launch
