// The directory's state machine, without sockets: registrations with leases, the numbered change
// log that watchers follow, and the replies to every request. The server (directory_server.*)
// feeds it decoded requests and the clock, and publishes the changes it returns.
//
// Not thread-safe: owned by the directory's single event loop.
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "directory/directory_protocol.hpp"
#include "monitor_snapshot.hpp"

namespace brook {

// What the directory holds, bounded so that every reply fits in one frame (kMaxDirectoryFrame) and
// one node cannot take the room of the others. Sizes are those of the instance's part of a `list`
// reply plus its entries in a `snapshot` reply, as encoded (docs/directory.md#limits).
inline constexpr std::size_t kMaxStateBytes = 3 * 1024 * 1024;  // all instances together
inline constexpr std::size_t kMaxNodeBytes = 512 * 1024;        // the instances of one node name

struct DirectoryConfig {
  std::chrono::milliseconds default_ttl{3000};
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::milliseconds min_ttl{200};  // requested leases are clamped to [min_ttl, max_ttl]
  std::chrono::milliseconds max_ttl{60000};
  std::size_t max_instances = 10000;
  std::string pub_endpoint;  // told to clients in the hello reply
};

class DirectoryRegistry {
 public:
  using Clock = std::chrono::steady_clock;

  DirectoryRegistry(DirectoryConfig config, std::string epoch, Clock::time_point started);

  // Handles one request; appends the changes it caused (consecutive seq numbers) to `changes`.
  // `route`: the connection it came on (a ROUTER routing id), where an instance that registers
  // with `push` gets its changes; its heartbeats move them to the connection they come on.
  DirectoryReplyBody handle(const DirectoryRequestBody& request, Clock::time_point now,
                            std::vector<DirectoryUpdate>& changes, std::string_view route = {});

  // The connections to push a change of `channel` in `topology` to: those of the instances
  // registered on it with `push`. Empty for none.
  void push_routes(const std::string& topology, const std::string& channel,
                   std::vector<std::string_view>& out) const;
  // Every instance's connection that takes pushed changes (for the ticks).
  void push_routes(std::vector<std::string_view>& out) const;

  // Removes instances whose lease ran out before `now`, appending the removals.
  void expire(Clock::time_point now, std::vector<DirectoryUpdate>& changes);
  // The directory itself did not run for `stall` (SIGSTOP, a VM pause, CPU starvation): it could
  // not hear heartbeats then, so every lease gets that time back (last_seen moves forward, never
  // past `now`) and no live node expires because of the directory's own pause.
  void extend_leases(Clock::duration stall, Clock::time_point now);

  DirectoryState state(Clock::time_point now) const;
  // With every tick: a mark for each channel updated within kRecentChanges. Also the moment to
  // forget quiet, empty channels once there are very many (prune_channels).
  std::vector<DirectoryMark> marks(Clock::time_point now);
  // Earliest lease deadline, or time_point::max() when nothing is registered.
  Clock::time_point next_expiry() const;
  std::size_t instance_count() const noexcept { return instances_.size(); }
  const DirectoryConfig& config() const noexcept { return config_; }
  void set_pub_endpoint(std::string endpoint) { config_.pub_endpoint = std::move(endpoint); }
  std::size_t state_bytes() const noexcept { return total_bytes_; }
  // Instances whose lease ran out since the directory started.
  std::uint64_t leases_expired() const noexcept { return leases_expired_; }
  // Every instance as `list` reports it, with its previous heartbeat's counters (for rates),
  // ordered by scope, node and instance: what the HTTP listener shows.
  std::vector<MonitoredInstance> monitored(Clock::time_point now) const;

 private:
  struct Instance {
    std::string topology;  // its scope
    std::string node;
    std::uint32_t instance = 0;
    std::string incarnation;
    // The registering process's secret ("" = it sent none): never in a reply, an update or a log.
    std::string token;
    std::string host;
    std::uint32_t pid = 0;
    std::chrono::milliseconds lease{};
    Clock::time_point registered_at;
    Clock::time_point last_seen;
    std::vector<Registration> registrations;
    NodeCounters counters;
    // The heartbeat before `counters` and when both came (rates on the HTTP listener). Not part
    // of any reply, so not in `bytes`; bounded like `counters`.
    NodeCounters previous;
    Clock::time_point counters_at{};
    Clock::time_point previous_at{};
    std::size_t bytes = 0;  // footprint(): its share of kMaxStateBytes and kMaxNodeBytes
    // Registered with `push`: the connection its changes go to ("" = it watches the PUB).
    // Never in a reply; one per instance, so bounded like the instances.
    std::string route;
  };

  // What `inst` adds to a list reply and to a snapshot of every channel, as encoded.
  static std::size_t footprint(const Instance& inst);
  // Whether a request carrying `token` comes from the process that registered `inst`.
  static bool proves(const Instance& inst, std::string_view token) noexcept;
  // The refusal of a request for `k` whose token does not match: names the instance, not the token.
  static ErrorReply token_mismatch(const std::string& k, const Instance& inst,
                                   std::string_view what);
  // What `list` says of an instance.
  static InstanceInfo info_of(const Instance& inst, std::uint64_t age_ms,
                              std::uint64_t registered_ms);
  // Why `node` may not grow from `old_bytes` to `new_bytes`, or "" when it may.
  std::string over_quota(const std::string& node, std::size_t old_bytes,
                         std::size_t new_bytes) const;
  void account(const Instance& inst, std::size_t new_bytes);
  using InstanceIt = std::map<std::string, Instance, std::less<>>::iterator;
  void erase(InstanceIt it);
  // Sets when the instance was last heard from and its lease, keeping by_deadline_ in step.
  void renew(InstanceIt it, Clock::time_point last_seen, std::chrono::milliseconds lease);
  // Keeps by_channel_ in step with the instance's registrations: off them, or on them.
  void index_channels(InstanceIt it, bool add);

  DirectoryReplyBody do_register(const RegisterRequest& r, Clock::time_point now,
                                 std::vector<DirectoryUpdate>& changes, std::string_view route);
  DirectoryReplyBody do_heartbeat(const HeartbeatRequest& r, Clock::time_point now,
                                  std::string_view route);
  DirectoryReplyBody do_unregister(const UnregisterRequest& r, Clock::time_point now,
                                   std::vector<DirectoryUpdate>& changes);
  // The entries of `channels` (empty = all); `with_seq`: and each channel's last update seq.
  EntriesReply entries(Clock::time_point now, const std::string& topology,
                       const std::vector<std::string>& channels, bool with_seq) const;
  void prune_channels(Clock::time_point now);
  ListReply list(Clock::time_point now) const;

  void publish(ChangeOp op, ChangeReason reason, const Instance& inst, const Registration& reg,
               Clock::time_point now, std::vector<DirectoryUpdate>& changes);
  void remove_all(const Instance& inst, ChangeReason reason, Clock::time_point now,
                  std::vector<DirectoryUpdate>& changes);
  // "node.instance" in the unnamed scope, "topology/node.instance" in a topology's.
  static std::string key(const std::string& topology, const std::string& node,
                         std::uint32_t instance);

  DirectoryConfig config_;
  std::string epoch_;
  Clock::time_point started_;
  std::uint64_t seq_ = 0;
  std::uint64_t leases_expired_ = 0;
  std::map<std::string, Instance, std::less<>> instances_;  // by key()
  // Every instance by when its lease runs out (last_seen + lease), and the key it is under (the
  // map's own, stable): expiry and the next wake-up look at the front only, not at every
  // instance on every turn of the loop.
  std::set<std::pair<Clock::time_point, const std::string*>> by_deadline_;
  // Instance keys by scoped channel name: a snapshot or resolve of a few channels reads only
  // their instances, not every instance (a thousand nodes starting take a thousand snapshots).
  std::map<std::string, std::set<std::string_view>, std::less<>> by_channel_;
  std::size_t total_bytes_ = 0;                    // Σ Instance::bytes
  std::map<std::string, std::size_t> node_bytes_;  // Σ Instance::bytes per scoped node name

  // Per channel, for the `prev` of its next update and for its marks.
  struct ChannelLog {
    std::string topology;
    std::string channel;
    std::uint64_t last_seq = 0;
    Clock::time_point last_change{};
  };
  static constexpr std::size_t kMaxRememberedChannels = 100000;
  std::map<std::string, ChannelLog, std::less<>> channels_;  // by scoped_name()
};

// Validates what a register request asks for; returns an error text or empty when acceptable.
std::string validate_registration(const RegisterRequest& r);

// The nodes of the topology a directory serves and how many replicas each declares (empty: the
// directory was started without one and takes any node and instance).
struct DeclaredNodes {
  std::string topology;
  std::map<std::string, std::uint32_t, std::less<>> replicas;
};

// With CURVE, who may ask what: `user_id` is the allowlist name of the requester's key. Register,
// heartbeat and unregister only for the node of that name, so no key can speak for another node;
// look-ups for any key on the allowlist. With `declared` nodes, a register only for a node the
// topology declares and an instance below its replicas, so a node's key cannot add replicas the
// topology does not have (the tools' own nodes excepted). Returns why a request is denied, or ""
// when allowed.
std::string authorize(const DirectoryRequestBody& body, std::string_view user_id,
                      const DeclaredNodes& declared = {});

}  // namespace brook
