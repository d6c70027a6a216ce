#include "directory_view.hpp"

#include <algorithm>

#include "cli_common.hpp"

namespace brook::cli {

std::chrono::milliseconds tool_timeout(std::size_t endpoints) {
  return endpoints > 1 ? std::chrono::seconds(1) : std::chrono::seconds(2);
}

DirectoryReader::DirectoryReader(std::vector<std::string> endpoints, const Security& security)
    : client_(endpoints, tool_timeout(endpoints.size()), security), curve_(security.curve()) {}

ListReply DirectoryReader::list() {
  try {
    return client_.list();
  } catch (const Error& e) {
    throw Exit(kExitUnreachable,
               std::string(e.what()) +
                   "\nhint: is the topology running (brook up)? Point at its directory with "
                   "--directory tcp://HOST:PORT or --topology FILE." +
                   (curve_ ? " With CURVE a directory also stays silent to a key that "
                             "is not on its allowlist: check --keys / --key-file."
                           : ""));
  }
}

void keep_topology(ListReply& reply, const std::string& name) {
  std::erase_if(reply.instances, [&](const InstanceInfo& i) { return i.topology != name; });
}

bool several_topologies(const ListReply& reply) {
  return std::any_of(reply.instances.begin(), reply.instances.end(), [&](const InstanceInfo& i) {
    return i.topology != reply.instances.front().topology;
  });
}

std::string instance_label(const InstanceInfo& i, bool scoped) {
  return (scoped ? scoped_name(i.topology, i.node) : i.node) + "." + std::to_string(i.instance);
}

nlohmann::json to_json(const Registration& r) {
  return {{"channel", r.channel},
          {"direction", std::string(to_string(r.direction))},
          {"pattern", std::string(to_string(r.pattern))},
          {"endpoint", r.endpoint},
          {"port", r.port},
          {"tap", r.tap}};
}

nlohmann::json to_json(const ChannelCounters& c) {
  nlohmann::json j = nlohmann::json::object();
  c.for_each([&](std::string_view name, std::uint64_t v) { j[std::string(name)] = v; });
  return j;
}

namespace {

// The same process (incarnation) as `info` in `before`, or nullptr.
const InstanceInfo* earlier(const StatsSample& before, const InstanceInfo& info) {
  for (const auto& old : before.list.instances) {
    if (old.incarnation == info.incarnation) return &old;
  }
  return nullptr;
}

double per_second(std::uint64_t from, std::uint64_t to, double seconds) {
  return to >= from ? static_cast<double>(to - from) / seconds : 0.0;
}

}  // namespace

Rates rates_since(const StatsSample& before, const StatsSample& now, const InstanceInfo& info,
                  const std::string& channel) {
  const double dt = std::chrono::duration<double>(now.at - before.at).count();
  const InstanceInfo* old = earlier(before, info);
  if (dt <= 0 || old == nullptr) return {};
  const auto a = old->counters.channels.find(channel);
  const auto b = info.counters.channels.find(channel);
  if (a == old->counters.channels.end() || b == info.counters.channels.end()) return {};
  return {per_second(a->second.received, b->second.received, dt),
          per_second(a->second.emitted, b->second.emitted, dt)};
}

double user_counter_rate(const StatsSample& before, const StatsSample& now,
                         const InstanceInfo& info, const std::string& name) {
  const double dt = std::chrono::duration<double>(now.at - before.at).count();
  const InstanceInfo* old = earlier(before, info);
  if (dt <= 0 || old == nullptr) return 0;
  const auto a = old->counters.user_counters.find(name);
  const auto b = info.counters.user_counters.find(name);
  if (a == old->counters.user_counters.end() || b == info.counters.user_counters.end()) return 0;
  return per_second(a->second, b->second, dt);
}

}  // namespace brook::cli
