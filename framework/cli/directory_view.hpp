// Reading a running topology through the directory: instances, their registrations and the
// counters their heartbeats carry. Used by `brook ls`, `brook stats` and the launcher's status.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "directory/directory_protocol.hpp"
#include "security/security.hpp"

namespace brook::cli {

// list() from the directory at `endpoint`; throws Exit(kExitUnreachable) with a hint.
ListReply list_instances(const std::string& endpoint, const Security& security,
                         std::chrono::milliseconds timeout = std::chrono::seconds(2));

// Keeps only the instances of topology `name` (a directory may serve several).
void keep_topology(ListReply& reply, const std::string& name);
// Whether `reply` holds instances of more than one topology.
bool several_topologies(const ListReply& reply);
// "node.instance", or "topology/node.instance" when `scoped` (several_topologies()).
std::string instance_label(const InstanceInfo& i, bool scoped);

nlohmann::json to_json(const Registration& r);
nlohmann::json to_json(const ChannelCounters& c);

// Per-second rates of each counter between two samples of the same instance.
struct Rates {
  double received = 0;
  double emitted = 0;
};

// Counters of every instance at one moment, keyed by instance name ("basket.0") for display and
// by incarnation to compute rates only across the same process.
struct StatsSample {
  std::chrono::steady_clock::time_point at;
  ListReply list;
};

// Rates of `channel` of instance `info` between `before` and now; zero when the instance was not
// in `before` (a new process) or no time passed.
Rates rates_since(const StatsSample& before, const StatsSample& now, const InstanceInfo& info,
                  const std::string& channel);
// The same for one of the instance's user counters (Node::counter).
double user_counter_rate(const StatsSample& before, const StatsSample& now,
                         const InstanceInfo& info, const std::string& name);

}  // namespace brook::cli
