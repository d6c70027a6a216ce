#include "directory_logic.hpp"

#include <algorithm>
#include <limits>
#include <set>

#include "security/security.hpp"

namespace brook {

namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

std::uint64_t ms_between(DirectoryRegistry::Clock::time_point from,
                         DirectoryRegistry::Clock::time_point to) {
  if (to <= from) return 0;
  return static_cast<std::uint64_t>(duration_cast<milliseconds>(to - from).count());
}

ErrorReply error(DirectoryErrc code, std::string detail) {
  return {code, std::move(detail)};
}

// Compares every byte of `secret` whatever the first difference, so the time a refusal takes does
// not tell a guesser how much of a token it got right.
bool equal_in_constant_time(std::string_view secret, std::string_view given) noexcept {
  volatile unsigned char diff = secret.size() == given.size() ? 0 : 1;
  for (std::size_t i = 0; i < secret.size(); ++i) {
    const auto g = static_cast<unsigned char>(i < given.size() ? given[i] : 0);
    diff = static_cast<unsigned char>(diff | (static_cast<unsigned char>(secret[i]) ^ g));
  }
  return diff == 0;
}

}  // namespace

std::string validate_registration(const RegisterRequest& r) {
  if (!valid_directory_name(r.node)) return "node name '" + r.node + "' is not [A-Za-z0-9_-]{1,64}";
  if (!r.topology.empty() && !valid_directory_name(r.topology)) {
    return "topology name '" + r.topology + "' is not [A-Za-z0-9_-]{1,64}";
  }
  if (r.incarnation.empty()) return "incarnation is empty";
  for (const auto& reg : r.registrations) {
    if (!valid_directory_name(reg.channel)) return "channel name '" + reg.channel + "' is invalid";
    if (reg.direction == Direction::kIn && reg.endpoint.empty()) {
      return "input on channel '" + reg.channel + "' has no endpoint";
    }
  }
  return {};
}

DirectoryRegistry::DirectoryRegistry(DirectoryConfig config, std::string epoch,
                                     Clock::time_point started)
    : config_(std::move(config)), epoch_(std::move(epoch)), started_(started) {}

std::string DirectoryRegistry::key(const std::string& topology, const std::string& node,
                                   std::uint32_t instance) {
  return scoped_name(topology, node) + "." + std::to_string(instance);
}

DirectoryState DirectoryRegistry::state(Clock::time_point now) const {
  DirectoryState s;
  s.epoch = epoch_;
  s.seq = seq_;
  s.uptime_ms = ms_between(started_, now);
  // Until a full TTL has passed since start, live instances may not have re-registered yet, so
  // an absent entry does not mean a dead instance.
  s.settled = now - started_ >= config_.default_ttl;
  return s;
}

DirectoryReplyBody DirectoryRegistry::handle(const DirectoryRequestBody& request,
                                             Clock::time_point now,
                                             std::vector<DirectoryUpdate>& changes,
                                             std::string_view route) {
  struct Visitor {
    DirectoryRegistry& self;
    Clock::time_point now;
    std::vector<DirectoryUpdate>& changes;
    std::string_view route;
    DirectoryReplyBody operator()(const HelloRequest& r) const {
      return HelloReply{self.state(now), self.config_.pub_endpoint,
                        static_cast<std::uint32_t>(self.config_.default_ttl.count()),
                        static_cast<std::uint32_t>(self.config_.heartbeat.count()), r.push};
    }
    DirectoryReplyBody operator()(const RegisterRequest& r) const {
      return self.do_register(r, now, changes, route);
    }
    DirectoryReplyBody operator()(const HeartbeatRequest& r) const {
      return self.do_heartbeat(r, now, route);
    }
    DirectoryReplyBody operator()(const UnregisterRequest& r) const {
      return self.do_unregister(r, now, changes);
    }
    DirectoryReplyBody operator()(const ResolveRequest& r) const {
      return self.entries(now, r.topology, {r.channel}, false);
    }
    DirectoryReplyBody operator()(const SnapshotRequest& r) const {
      return self.entries(now, r.topology, r.channels, true);
    }
    DirectoryReplyBody operator()(const ListRequest&) const { return self.list(now); }
  };
  return std::visit(Visitor{*this, now, changes, route}, request);
}

void DirectoryRegistry::push_routes(const std::string& topology, const std::string& channel,
                                    std::vector<std::string_view>& out) const {
  out.clear();
  const auto c = by_channel_.find(scoped_name(topology, channel));
  if (c == by_channel_.end()) return;
  for (const std::string_view k : c->second) {
    const std::string& route = instances_.find(k)->second.route;
    if (!route.empty()) out.push_back(route);
  }
}

void DirectoryRegistry::push_routes(std::vector<std::string_view>& out) const {
  out.clear();
  for (const auto& [k, inst] : instances_) {
    if (!inst.route.empty()) out.push_back(inst.route);
  }
}

void DirectoryRegistry::publish(ChangeOp op, ChangeReason reason, const Instance& inst,
                                const Registration& reg, Clock::time_point now,
                                std::vector<DirectoryUpdate>& changes) {
  DirectoryUpdate u;
  u.epoch = epoch_;
  u.seq = ++seq_;
  ChannelLog& log = channels_[scoped_name(inst.topology, reg.channel)];
  log.topology = inst.topology;
  log.channel = reg.channel;
  u.prev = log.last_seq;
  log.last_seq = u.seq;
  log.last_change = now;
  u.op = op;
  u.reason = reason;
  u.entry = DirectoryEntry{inst.node, inst.instance, inst.incarnation, reg, inst.topology};
  changes.push_back(std::move(u));
}

void DirectoryRegistry::remove_all(const Instance& inst, ChangeReason reason, Clock::time_point now,
                                   std::vector<DirectoryUpdate>& changes) {
  for (const auto& reg : inst.registrations) {
    publish(ChangeOp::kRemove, reason, inst, reg, now, changes);
  }
}

bool DirectoryRegistry::proves(const Instance& inst, std::string_view token) noexcept {
  // An instance registered without a token (a client that predates them) proves nothing and is
  // treated as before tokens existed: its incarnation is all a request must name.
  return inst.token.empty() || equal_in_constant_time(inst.token, token);
}

ErrorReply DirectoryRegistry::token_mismatch(const std::string& k, const Instance& inst,
                                             std::string_view what) {
  // stale_incarnation, as for a different incarnation: to a brook node both mean another process
  // holds its name (it retries until that lease lapses, then ends), and neither hurts the holder.
  return error(DirectoryErrc::kStaleIncarnation,
               std::string(what) + " for " + k + " (incarnation " + inst.incarnation + ", pid " +
                   std::to_string(inst.pid) + " on " + inst.host +
                   ") refused: its token does not match the one that instance registered with; "
                   "only the process that registered an instance may re-register, renew or "
                   "unregister it");
}

InstanceInfo DirectoryRegistry::info_of(const Instance& inst, std::uint64_t age_ms,
                                        std::uint64_t registered_ms) {
  InstanceInfo info;
  info.node = inst.node;
  info.instance = inst.instance;
  info.incarnation = inst.incarnation;
  info.host = inst.host;
  info.pid = inst.pid;
  info.lease_ms = static_cast<std::uint32_t>(inst.lease.count());
  info.age_ms = age_ms;
  info.registered_ms = registered_ms;
  info.registrations = inst.registrations;
  info.counters = inst.counters;
  info.topology = inst.topology;
  return info;
}

std::size_t DirectoryRegistry::footprint(const Instance& inst) {
  // Ages as large as 32 bits hold (49 days), so the size stays valid as they grow.
  constexpr std::uint64_t kAnyAge = std::numeric_limits<std::uint32_t>::max();
  InstanceInfo info = info_of(inst, kAnyAge, kAnyAge);
  EntriesReply entries;
  for (const auto& reg : inst.registrations) {
    entries.entries.push_back(
        DirectoryEntry{inst.node, inst.instance, inst.incarnation, reg, inst.topology});
  }
  // Each reply's own fields (id, state, keys) are counted too: small, and on the safe side.
  return encode(DirectoryReply{0, ListReply{{}, {std::move(info)}}}).size() +
         encode(DirectoryReply{0, std::move(entries)}).size();
}

std::string DirectoryRegistry::over_quota(const std::string& node, std::size_t old_bytes,
                                          std::size_t new_bytes) const {
  // `node` is scoped: each topology's nodes have their own quota.
  const auto it = node_bytes_.find(node);
  const std::size_t node_now = it == node_bytes_.end() ? 0 : it->second;
  const std::size_t node_after = node_now - old_bytes + new_bytes;
  if (new_bytes > old_bytes && node_after > kMaxNodeBytes) {
    return "node '" + node + "' would hold " + std::to_string(node_after) +
           " bytes of registrations, over the directory's limit of " +
           std::to_string(kMaxNodeBytes) +
           " bytes per node; register fewer ports or shorter endpoints";
  }
  const std::size_t total_after = total_bytes_ - old_bytes + new_bytes;
  if (new_bytes > old_bytes && total_after > kMaxStateBytes) {
    return "the directory would hold " + std::to_string(total_after) +
           " bytes of registrations, over its limit of " + std::to_string(kMaxStateBytes) +
           " bytes (every reply must fit in " + std::to_string(kMaxDirectoryFrame) +
           " bytes); use another directory for more instances";
  }
  return {};
}

void DirectoryRegistry::account(const Instance& inst, std::size_t new_bytes) {
  const std::string scoped = scoped_name(inst.topology, inst.node);
  std::size_t& node = node_bytes_[scoped];
  node = node - inst.bytes + new_bytes;
  total_bytes_ = total_bytes_ - inst.bytes + new_bytes;
  if (node == 0) node_bytes_.erase(scoped);
}

void DirectoryRegistry::erase(InstanceIt it) {
  account(it->second, 0);
  index_channels(it, false);
  by_deadline_.erase({it->second.last_seen + it->second.lease, &it->first});
  instances_.erase(it);
}

void DirectoryRegistry::renew(InstanceIt it, Clock::time_point last_seen, milliseconds lease) {
  Instance& inst = it->second;
  by_deadline_.erase({inst.last_seen + inst.lease, &it->first});
  inst.last_seen = last_seen;
  inst.lease = lease;
  by_deadline_.emplace(inst.last_seen + inst.lease, &it->first);
}

void DirectoryRegistry::index_channels(InstanceIt it, bool add) {
  const Instance& inst = it->second;
  for (const auto& reg : inst.registrations) {
    const std::string scoped = scoped_name(inst.topology, reg.channel);
    if (add) {
      by_channel_[scoped].insert(it->first);
      continue;
    }
    const auto c = by_channel_.find(scoped);
    if (c == by_channel_.end()) continue;
    c->second.erase(it->first);
    if (c->second.empty()) by_channel_.erase(c);
  }
}

DirectoryReplyBody DirectoryRegistry::do_register(const RegisterRequest& r, Clock::time_point now,
                                                  std::vector<DirectoryUpdate>& changes,
                                                  std::string_view route) {
  if (std::string why = validate_registration(r); !why.empty()) {
    return error(DirectoryErrc::kBadRequest, why);
  }
  const auto k = key(r.topology, r.node, r.instance);
  auto it = instances_.find(k);
  if (it == instances_.end() && instances_.size() >= config_.max_instances) {
    return error(DirectoryErrc::kDenied, "directory full (" +
                                             std::to_string(config_.max_instances) +
                                             " instances); raise --max-instances");
  }
  milliseconds lease = r.lease_ms == 0 ? config_.default_ttl : milliseconds(r.lease_ms);
  lease = std::clamp(lease, config_.min_ttl, config_.max_ttl);

  // Another process: a different incarnation, or the same one (anyone can read it from `list`)
  // without the token it registered with.
  const bool other_incarnation = it != instances_.end() && it->second.incarnation != r.incarnation;
  const bool replacing =
      it != instances_.end() && (other_incarnation || !proves(it->second, r.token));
  if (replacing && now - it->second.last_seen <= it->second.lease) {
    // The holder is alive as far as the directory can tell; anyone may claim any name, so
    // taking it over would let one request (or a stray second process) silence a live
    // instance. The claimant gets the name once the holder's lease lapses.
    const Instance& holder = it->second;
    const auto left = duration_cast<milliseconds>(holder.last_seen + holder.lease - now).count();
    const std::string runs = "runs for another " + std::to_string(left) + " ms";
    if (!other_incarnation) {
      ErrorReply refused = token_mismatch(k, holder, "register");
      refused.detail += "; its lease " + runs;
      return refused;
    }
    return error(DirectoryErrc::kStaleIncarnation,
                 k + " is registered by another process (incarnation " + holder.incarnation +
                     ", pid " + std::to_string(holder.pid) + " on " + holder.host +
                     ") whose lease " + runs);
  }
  const bool same = it != instances_.end() && !replacing;
  Instance candidate;
  candidate.topology = r.topology;
  candidate.node = r.node;
  candidate.instance = r.instance;
  candidate.incarnation = r.incarnation;
  candidate.host = r.host;
  candidate.pid = r.pid;
  candidate.lease = lease;
  candidate.registrations = r.registrations;
  if (same) candidate.counters = it->second.counters;
  const std::size_t bytes = footprint(candidate);
  const std::size_t old_bytes = it == instances_.end() ? 0 : it->second.bytes;
  if (std::string why = over_quota(scoped_name(r.topology, r.node), old_bytes, bytes);
      !why.empty()) {
    return error(DirectoryErrc::kTooLarge, "cannot register " + k + ": " + why);
  }

  if (replacing) {
    // A new process takes over an instance whose holder's lease lapsed (a restart after a crash,
    // usually); watchers see the old endpoints go.
    remove_all(it->second, ChangeReason::kReplaced, now, changes);
    erase(it);
    it = instances_.end();
  }

  if (it == instances_.end()) {
    Instance inst;
    inst.topology = r.topology;
    inst.node = r.node;
    inst.instance = r.instance;
    inst.incarnation = r.incarnation;
    // Kept for the instance's life: a re-registration of a tokenless instance does not add one,
    // so a request that copied its incarnation cannot lock the real process out.
    inst.token = r.token;
    inst.registered_at = now;
    inst.last_seen = now;
    inst.lease = lease;
    it = instances_.emplace(k, std::move(inst)).first;
    by_deadline_.emplace(now + lease, &it->first);
  }
  Instance& inst = it->second;
  inst.host = r.host;
  inst.pid = r.pid;
  inst.route = r.push ? std::string(route) : std::string();
  renew(it, now, lease);

  // Re-registration of the same incarnation (after a directory restart, or a node adding ports):
  // publish only the difference so watchers do not drop healthy connections.
  for (const auto& old : inst.registrations) {
    if (std::find(r.registrations.begin(), r.registrations.end(), old) == r.registrations.end()) {
      publish(ChangeOp::kRemove, ChangeReason::kUnregistered, inst, old, now, changes);
    }
  }
  for (const auto& reg : r.registrations) {
    if (std::find(inst.registrations.begin(), inst.registrations.end(), reg) ==
        inst.registrations.end()) {
      publish(ChangeOp::kAdd, ChangeReason::kRegistered, inst, reg, now, changes);
    }
  }
  index_channels(it, false);
  inst.registrations = r.registrations;
  index_channels(it, true);
  account(inst, bytes);
  inst.bytes = bytes;
  return AckReply{state(now)};
}

DirectoryReplyBody DirectoryRegistry::do_heartbeat(const HeartbeatRequest& r, Clock::time_point now,
                                                   std::string_view route) {
  const std::string k = key(r.topology, r.node, r.instance);
  auto it = instances_.find(k);
  if (it == instances_.end()) {
    return error(DirectoryErrc::kUnknownInstance, k + " is not registered here; register again");
  }
  if (it->second.incarnation != r.incarnation) {
    return error(DirectoryErrc::kStaleIncarnation,
                 k + " is now registered by incarnation " + it->second.incarnation + " (pid " +
                     std::to_string(it->second.pid) + "); two processes claim the same instance");
  }
  if (!proves(it->second, r.token)) return token_mismatch(k, it->second, "heartbeat");
  Instance& inst = it->second;
  renew(it, now, inst.lease);
  // A client that connected again (a new routing id) gets its changes on the new connection.
  if (!inst.route.empty() && !route.empty() && inst.route != route) inst.route = route;
  inst.previous = std::move(inst.counters);
  inst.previous_at = inst.counters_at;
  inst.counters_at = now;
  // Counters that would take the directory over its limits are not kept (the lease is renewed
  // all the same): `list` shows none for this instance until they fit again.
  // Without counters an instance takes no more than it did when admitted, so that always fits.
  inst.counters = r.counters;
  std::size_t bytes = footprint(inst);
  if (!over_quota(scoped_name(inst.topology, inst.node), inst.bytes, bytes).empty()) {
    inst.counters = NodeCounters{};
    bytes = footprint(inst);
  }
  account(inst, bytes);
  inst.bytes = bytes;
  return AckReply{state(now)};
}

DirectoryReplyBody DirectoryRegistry::do_unregister(const UnregisterRequest& r,
                                                    Clock::time_point now,
                                                    std::vector<DirectoryUpdate>& changes) {
  const std::string k = key(r.topology, r.node, r.instance);
  auto it = instances_.find(k);
  if (it == instances_.end()) {
    return error(DirectoryErrc::kUnknownInstance, k + " is not registered");
  }
  if (it->second.incarnation != r.incarnation) {
    return error(DirectoryErrc::kStaleIncarnation,
                 "incarnation " + r.incarnation + " no longer owns " + it->first);
  }
  if (!proves(it->second, r.token)) return token_mismatch(k, it->second, "unregister");
  remove_all(it->second, ChangeReason::kUnregistered, now, changes);
  erase(it);
  return AckReply{state(now)};
}

void DirectoryRegistry::expire(Clock::time_point now, std::vector<DirectoryUpdate>& changes) {
  // A lease runs out once now - last_seen > lease: its deadline is before now.
  while (!by_deadline_.empty() && by_deadline_.begin()->first < now) {
    const auto it = instances_.find(*by_deadline_.begin()->second);
    remove_all(it->second, ChangeReason::kExpired, now, changes);
    ++leases_expired_;
    erase(it);
  }
}

void DirectoryRegistry::extend_leases(Clock::duration stall, Clock::time_point now) {
  for (auto it = instances_.begin(); it != instances_.end(); ++it) {
    const Instance& inst = it->second;
    renew(it, std::min(inst.last_seen + std::chrono::duration_cast<Clock::duration>(stall), now),
          inst.lease);
  }
}

DirectoryRegistry::Clock::time_point DirectoryRegistry::next_expiry() const {
  return by_deadline_.empty() ? Clock::time_point::max() : by_deadline_.begin()->first;
}

EntriesReply DirectoryRegistry::entries(Clock::time_point now, const std::string& topology,
                                        const std::vector<std::string>& channels,
                                        bool with_seq) const {
  EntriesReply r{state(now), {}, {}};
  auto add_entries = [&](const Instance& inst, const std::string* channel) {
    for (const auto& reg : inst.registrations) {
      if (channel != nullptr && reg.channel != *channel) continue;
      r.entries.push_back(
          DirectoryEntry{inst.node, inst.instance, inst.incarnation, reg, inst.topology});
    }
  };
  if (channels.empty()) {  // every channel of the topology
    for (const auto& [k, inst] : instances_) {
      if (inst.topology == topology) add_entries(inst, nullptr);
    }
    if (with_seq) {
      for (const auto& [scoped, log] : channels_) {
        if (log.topology == topology) r.channel_seq[log.channel] = log.last_seq;
      }
    }
    return r;
  }
  // Each channel's entries, by instance key; a channel asked for twice, once.
  const std::set<std::string> wanted(channels.begin(), channels.end());
  for (const auto& channel : wanted) {
    const std::string scoped = scoped_name(topology, channel);
    if (const auto c = by_channel_.find(scoped); c != by_channel_.end()) {
      for (const std::string_view k : c->second)
        add_entries(instances_.find(k)->second, &channel);
    }
    if (!with_seq) continue;
    if (const auto log = channels_.find(scoped); log != channels_.end()) {
      r.channel_seq[channel] = log->second.last_seq;
    }
  }
  return r;
}

std::vector<DirectoryMark> DirectoryRegistry::marks(Clock::time_point now) {
  std::vector<DirectoryMark> out;
  for (const auto& [scoped, log] : channels_) {
    if (now - log.last_change <= kRecentChanges) {
      out.push_back({epoch_, log.channel, log.last_seq, log.topology});
    }
  }
  prune_channels(now);
  return out;
}

void DirectoryRegistry::prune_channels(Clock::time_point now) {
  // Forgetting a channel's last seq costs its watchers one snapshot when it changes again (its
  // next update says prev 0), so only a directory that has seen very many channels forgets the
  // ones that have been empty and quiet for a while: registrations cannot grow it without bound.
  if (channels_.size() <= kMaxRememberedChannels) return;
  std::set<std::string, std::less<>> in_use;
  for (const auto& [k, inst] : instances_) {
    for (const auto& reg : inst.registrations)
      in_use.insert(scoped_name(inst.topology, reg.channel));
  }
  for (auto it = channels_.begin(); it != channels_.end();) {
    if (!in_use.count(it->first) && now - it->second.last_change > kRecentChanges) {
      it = channels_.erase(it);
    } else {
      ++it;
    }
  }
}

ListReply DirectoryRegistry::list(Clock::time_point now) const {
  ListReply r{state(now), {}};
  r.instances.reserve(instances_.size());
  for (const auto& [k, inst] : instances_) {
    r.instances.push_back(
        info_of(inst, ms_between(inst.last_seen, now), ms_between(inst.registered_at, now)));
  }
  return r;
}

std::vector<MonitoredInstance> DirectoryRegistry::monitored(Clock::time_point now) const {
  std::vector<MonitoredInstance> out;
  out.reserve(instances_.size());
  for (const auto& [k, inst] : instances_) {
    MonitoredInstance m;
    m.info = info_of(inst, ms_between(inst.last_seen, now), ms_between(inst.registered_at, now));
    if (inst.previous_at != Clock::time_point{}) {
      m.previous = inst.previous;
      m.interval_ms = ms_between(inst.previous_at, inst.counters_at);
    }
    out.push_back(std::move(m));
  }
  // The map's order is by key, where "shop/a.10" comes before "shop/a.2".
  std::sort(out.begin(), out.end(), [](const MonitoredInstance& a, const MonitoredInstance& b) {
    return std::tie(a.info.topology, a.info.node, a.info.instance) <
           std::tie(b.info.topology, b.info.node, b.info.instance);
  });
  return out;
}

std::string authorize(const DirectoryRequestBody& body, std::string_view user_id,
                      const DeclaredNodes& declared) {
  const std::string* node = std::visit(
      [](const auto& r) -> const std::string* {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, RegisterRequest> || std::is_same_v<T, HeartbeatRequest> ||
                      std::is_same_v<T, UnregisterRequest>) {
          return &r.node;
        } else {
          return nullptr;
        }
      },
      body);
  if (node == nullptr) return {};
  // The command line tools' short-lived nodes (brook tap, brook send) are "cli-<tool>-<pid>".
  if (user_id == kCliIdentity && is_tool_node(*node)) return {};
  if (*node != user_id) {
    return "the key of '" + std::string(user_id) + "' cannot " + std::string(op_name(body)) +
           " node '" + *node + "': each node registers with its own key (see brook keygen)";
  }
  const auto* r = std::get_if<RegisterRequest>(&body);
  if (r == nullptr || declared.replicas.empty()) return {};
  if (r->topology != declared.topology) {
    return "node '" + *node + "' registers for topology '" + r->topology +
           "', but this directory serves topology '" + declared.topology +
           "'; start that topology with its own directory";
  }
  const auto it = declared.replicas.find(*node);
  if (it == declared.replicas.end()) {
    return "node '" + *node + "' is not in topology '" + declared.topology +
           "', which this directory serves";
  }
  if (r->instance >= it->second) {
    return "instance " + std::to_string(r->instance) + " of node '" + *node + "' is beyond the " +
           std::to_string(it->second) + " replica(s) topology '" + declared.topology +
           "' declares for it";
  }
  return {};
}

}  // namespace brook
