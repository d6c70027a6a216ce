// What the directory's HTTP listener shows (docs/monitoring.md): an immutable copy of the
// registry and the directory's own counters, taken by the directory's loop at most once a tick.
// The HTTP threads read only these; rendering them (metrics_text.*, topology_json.*) is plain
// logic, unit-tested without sockets.
#pragma once

#include <brook/counters.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "directory/directory_protocol.hpp"

namespace brook {

// One instance as `list` reports it, with the heartbeat before its latest, for rates.
struct MonitoredInstance {
  InstanceInfo info;
  NodeCounters previous;          // the counters of the heartbeat before info.counters'
  std::uint64_t interval_ms = 0;  // between those two heartbeats; 0: only one so far
};

// A channel the directory's topology declares.
struct DeclaredChannel {
  std::string pattern;   // pipeline | pubsub | request
  std::string delivery;  // best-effort | at-least-once ("" for request channels)
};

// What the directory knows of its topology (--topology); empty without one.
struct MonitoredTopology {
  std::string name;                                 // its scope
  std::map<std::string, std::uint32_t> replicas;    // node -> declared replicas
  std::map<std::string, DeclaredChannel> channels;  // by name
  std::map<std::string, std::vector<std::string>> producers, consumers;  // channel -> nodes
};

// The directory's own counters.
struct DirectoryTotals {
  std::uint64_t requests = 0;
  std::uint64_t bad_requests = 0;
  std::uint64_t denied = 0;
  std::uint64_t refused = 0;
  std::uint64_t updates_published = 0;
  std::uint64_t leases_expired = 0;
};

struct MonitorSnapshot {
  std::uint64_t time_ms = 0;  // wall clock (ms since the epoch) when it was taken
  std::string epoch;
  std::string endpoint;      // the ROUTER
  std::string pub_endpoint;  // the PUB
  std::uint64_t uptime_ms = 0;
  std::uint64_t heartbeat_ms = 1000;  // the period nodes are told; "late" after two
  std::size_t max_instances = 0;
  DirectoryTotals totals;
  MonitoredTopology topology;
  std::vector<MonitoredInstance> instances;  // ordered by scope, node, instance
};

// How the directory's loop hands snapshots to the HTTP threads: the loop publishes a new one
// (never changed afterwards), a request takes the latest. Holding the mutex only to copy a
// shared_ptr keeps the loop from ever waiting on a slow HTTP client.
class SnapshotBox {
 public:
  void publish(std::shared_ptr<const MonitorSnapshot> s) {
    const std::lock_guard lock(mutex_);
    latest_ = std::move(s);
  }
  std::shared_ptr<const MonitorSnapshot> latest() const {
    const std::lock_guard lock(mutex_);
    return latest_;
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const MonitorSnapshot> latest_ = std::make_shared<MonitorSnapshot>();
};

// Whether an instance's last heartbeat is more than two periods old.
inline bool is_late(const MonitorSnapshot& s, const InstanceInfo& i) {
  return i.age_ms > 2 * s.heartbeat_ms;
}

// Per second, from two readings of a counter `interval_ms` apart; 0 without an interval or when
// the counter went back (the instance restarted).
inline double rate_per_second(std::uint64_t before, std::uint64_t after,
                              std::uint64_t interval_ms) {
  if (interval_ms == 0 || after < before) return 0.0;
  return static_cast<double>(after - before) * 1000.0 / static_cast<double>(interval_ms);
}

}  // namespace brook
