// The order in which `brook up` starts and stops nodes: consumers before producers, so a
// producer finds its consumers registered when it starts, and producers before consumers on
// the way down, so consumers can drain what was sent. Plain logic, no processes.
#pragma once

#include <brook/topology.hpp>
#include <set>
#include <string>
#include <vector>

namespace brook::launch {

// Nodes grouped in start order: level 0 holds nodes none of whose outputs (or dead-letter
// channels of its inputs) is read by another
// selected node (sinks); a node's level is one more than the highest level among the nodes
// reading its outputs. Cycles are broken at the edge that closes them. Stop order is the reverse.
// `only`: the nodes to include (empty = all); every name must exist (UsageError otherwise).
std::vector<std::vector<const NodeSpec*>> start_levels(const Topology& t,
                                                       const std::set<std::string>& only = {});

// One node of the start plan: it starts once every node in `waits_for` is ready (or has exited
// for good, or has had its ready timeout). `waits_for` holds the nodes of `levels` (what
// start_levels returned for `t`) that read its outputs on lower levels, so a cycle is broken where
// start_levels breaks it, each once. The plan lists the nodes level by level, as `levels` does.
struct StartStep {
  const NodeSpec* node = nullptr;
  std::size_t level = 0;
  std::vector<const NodeSpec*> waits_for;
};
std::vector<StartStep> start_plan(const Topology& t,
                                  const std::vector<std::vector<const NodeSpec*>>& levels);

// Channels the jobs' messages can reach: those a job writes, then those written by any node that
// reads one of them, transitively. Drain detection watches only these.
std::set<std::string> channels_downstream_of_jobs(const Topology& t);

}  // namespace brook::launch
