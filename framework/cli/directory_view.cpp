#include "directory_view.hpp"

#include "cli_common.hpp"
#include "directory/directory_client.hpp"

namespace brook::cli {

ListReply list_instances(const std::string& endpoint, const Security& security,
                         std::chrono::milliseconds timeout) {
  try {
    DirectoryClient client(endpoint, timeout, security);
    return client.list();
  } catch (const Error& e) {
    throw Exit(kExitUnreachable,
               std::string(e.what()) +
                   "\nhint: is the topology running (brook up)? Point at its directory with "
                   "--directory tcp://HOST:PORT or --topology FILE." +
                   (security.curve() ? " With CURVE a directory also stays silent to a key that "
                                       "is not on its allowlist: check --keys / --key-file."
                                     : ""));
  }
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

Rates rates_since(const StatsSample& before, const StatsSample& now, const InstanceInfo& info,
                  const std::string& channel) {
  const double dt = std::chrono::duration<double>(now.at - before.at).count();
  if (dt <= 0) return {};
  for (const auto& old : before.list.instances) {
    if (old.incarnation != info.incarnation) continue;
    const auto a = old.counters.channels.find(channel);
    const auto b = info.counters.channels.find(channel);
    if (a == old.counters.channels.end() || b == info.counters.channels.end()) return {};
    auto delta = [&](std::uint64_t x, std::uint64_t y) {
      return y >= x ? static_cast<double>(y - x) / dt : 0.0;
    };
    return {delta(a->second.received, b->second.received),
            delta(a->second.emitted, b->second.emitted)};
  }
  return {};
}

}  // namespace brook::cli
