#include "topology_json.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

namespace brook {

namespace {

using nlohmann::json;

json counters_json(const NodeCounters& c) {
  json channels = json::object();
  json latency = json::object();
  for (const auto& [name, ch] : c.channels) {
    json j = json::object();
    ch.for_each([&](std::string_view k, std::uint64_t v) { j[std::string(k)] = v; });
    channels[name] = std::move(j);
    if (ch.latency.count() > 0) {
      latency[name] = {{"sum_ns", ch.latency.sum_ns}, {"buckets", ch.latency.counts}};
    }
  }
  json user_counters = json::object();
  for (const auto& [k, v] : c.user_counters)
    user_counters[k] = v;
  json user_gauges = json::object();
  for (const auto& [k, v] : c.user_gauges)
    user_gauges[k] = v;
  return {{"uptime_ms", c.uptime_ms},        {"loop_iterations", c.loop_iterations},
          {"channels", std::move(channels)}, {"latency", std::move(latency)},
          {"user_counters", user_counters},  {"user_gauges", user_gauges}};
}

// Per second over the instance's last two heartbeats, of one counter summed over channels.
double instance_rate(const MonitoredInstance& m, std::uint64_t ChannelCounters::*field) {
  const ChannelCounters now = m.info.counters.total();
  const ChannelCounters before = m.previous.total();
  return rate_per_second(before.*field, now.*field, m.interval_ms);
}

double channel_rate(const MonitoredInstance& m, const std::string& channel,
                    std::uint64_t ChannelCounters::*field) {
  const auto now = m.info.counters.channels.find(channel);
  if (now == m.info.counters.channels.end()) return 0.0;
  const auto before = m.previous.channels.find(channel);
  const std::uint64_t prev = before == m.previous.channels.end() ? 0 : before->second.*field;
  // A channel new since the previous heartbeat counts from 0; without one there is no rate.
  return rate_per_second(prev, now->second.*field, m.interval_ms);
}

struct ChannelAccum {
  std::string pattern;
  std::string delivery;
  std::set<std::string> producers, consumers;
  double rate = 0, sent_rate = 0;
  std::uint64_t in_flight = 0, pending = 0, lag_ms = 0, errors = 0, dead_lettered = 0,
                redelivered = 0, duplicates = 0, retried = 0;
};

const char* pattern_name(Pattern p) {
  return p == Pattern::kPubsub ? "pubsub" : "pipeline";
}

}  // namespace

std::string render_topology_json(const MonitorSnapshot& s) {
  std::set<std::string> scopes;
  // (scope, node) -> instances; (scope, channel) -> what the graph shows of it.
  std::map<std::pair<std::string, std::string>, json> nodes;
  std::map<std::pair<std::string, std::string>, ChannelAccum> channels;
  const MonitoredTopology& declared = s.topology;
  if (!declared.name.empty() || !declared.replicas.empty()) {
    scopes.insert(declared.name);
    for (const auto& [node, n] : declared.replicas)
      nodes[{declared.name, node}] = json::array();
    for (const auto& [name, c] : declared.channels) {
      auto& a = channels[{declared.name, name}];
      a.pattern = c.pattern;
      a.delivery = c.delivery;
      if (auto p = declared.producers.find(name); p != declared.producers.end())
        a.producers.insert(p->second.begin(), p->second.end());
      if (auto p = declared.consumers.find(name); p != declared.consumers.end())
        a.consumers.insert(p->second.begin(), p->second.end());
    }
  }
  for (const auto& m : s.instances) {
    const InstanceInfo& i = m.info;
    scopes.insert(i.topology);
    const bool late = is_late(s, i);
    nodes[{i.topology, i.node}].push_back(
        {{"instance", i.instance},
         {"host", i.host},
         {"pid", i.pid},
         {"health", late ? "late" : "up"},
         {"age_ms", i.age_ms},
         {"uptime_ms", i.counters.uptime_ms},
         {"counters", counters_json(i.counters)},
         {"rates",
          {{"received", instance_rate(m, &ChannelCounters::received)},
           {"handled", instance_rate(m, &ChannelCounters::handled)},
           {"sent", instance_rate(m, &ChannelCounters::sent)}}}});
    for (const auto& reg : i.registrations) {
      if (reg.tap) continue;  // an observer (brook tap) is no edge of the graph
      auto& a = channels[{i.topology, reg.channel}];
      if (a.pattern.empty()) a.pattern = pattern_name(reg.pattern);
      (reg.direction == Direction::kIn ? a.consumers : a.producers).insert(i.node);
    }
    for (const auto& [name, c] : i.counters.channels) {
      auto& a = channels[{i.topology, name}];
      const bool consumes = a.consumers.count(i.node) > 0;
      const bool produces = a.producers.count(i.node) > 0;
      if (consumes) a.rate += channel_rate(m, name, &ChannelCounters::received);
      if (produces) {
        a.sent_rate += channel_rate(m, name, &ChannelCounters::sent);
        a.in_flight += c.in_flight;
        a.pending += c.pending;
        a.lag_ms = std::max(a.lag_ms, c.lag_ms);
      }
      a.errors += c.decode_errors + c.handler_errors;
      a.dead_lettered += c.dead_lettered;
      a.redelivered += c.redelivered;
      a.duplicates += c.duplicates;
      a.retried += c.retried;
    }
  }

  json out_nodes = json::array();
  for (auto& [key, instances] : nodes) {
    std::uint32_t replicas = static_cast<std::uint32_t>(instances.size());
    if (key.first == declared.name) {
      if (auto r = declared.replicas.find(key.second); r != declared.replicas.end())
        replicas = r->second;
    }
    out_nodes.push_back({{"scope", key.first},
                         {"name", key.second},
                         {"replicas", replicas},
                         {"instances", std::move(instances)}});
  }
  json out_channels = json::array();
  for (const auto& [key, a] : channels) {
    out_channels.push_back({{"scope", key.first},
                            {"name", key.second},
                            {"pattern", a.pattern},
                            {"delivery", a.delivery},
                            {"producers", a.producers},
                            {"consumers", a.consumers},
                            {"rate", a.rate},
                            {"sent_rate", a.sent_rate},
                            {"in_flight", a.in_flight},
                            {"pending", a.pending},
                            {"lag_ms", a.lag_ms},
                            {"errors", a.errors},
                            {"dead_lettered", a.dead_lettered},
                            {"redelivered", a.redelivered},
                            {"duplicates", a.duplicates},
                            {"retried", a.retried}});
  }
  const json doc{{"time_ms", s.time_ms},
                 {"directory", {{"epoch", s.epoch}, {"endpoint", s.endpoint}}},
                 {"scopes", scopes},
                 {"nodes", std::move(out_nodes)},
                 {"channels", std::move(out_channels)}};
  // Names come from the wire: bytes that are not UTF-8 are replaced, never a reason to fail.
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string render_health_json(const MonitorSnapshot& s) {
  std::size_t late = 0;
  for (const auto& m : s.instances)
    late += is_late(s, m.info) ? 1 : 0;
  const json doc{{"status", "ok"},
                 {"epoch", s.epoch},
                 {"endpoint", s.endpoint},
                 {"uptime_ms", s.uptime_ms},
                 {"instances", s.instances.size()},
                 {"late", late},
                 {"time_ms", s.time_ms}};
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace brook
