// Reading a running topology through the directory: instances, their registrations and the
// counters their heartbeats carry. Used by `brook ls`, `brook stats` and the launcher's status.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "directory/directory_client.hpp"
#include "directory/directory_protocol.hpp"
#include "security/security.hpp"

namespace brook::cli {

// How long a tool waits for one directory: 2 s when it is the only one; 1 s each when there
// are several, so that a dead one delays the answer of the next by no more than that.
std::chrono::milliseconds tool_timeout(std::size_t endpoints);

// Reads the directories at `endpoints` (redundant copies of one another): asks them in order,
// starting with the one that answered last, and takes the first answer.
class DirectoryReader {
 public:
  DirectoryReader(std::vector<std::string> endpoints, const Security& security);
  // Throws Exit(kExitUnreachable) with a hint when none answers.
  ListReply list();
  // The endpoint that answered last.
  const std::string& endpoint() const noexcept { return client_.endpoint(); }

 private:
  DirectoryClient client_;
  bool curve_;
};

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
