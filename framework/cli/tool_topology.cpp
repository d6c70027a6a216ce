#include "tool_topology.hpp"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "directory/directory_client.hpp"
#include "directory_view.hpp"
#include "topology/schema.hpp"

namespace brook::cli {

namespace {

// "did you mean 'orders'? " when a channel is within two edits of `channel`, as brook check says.
std::string did_you_mean(const std::string& channel, const std::vector<std::string>& known) {
  const auto close = detail::closest(channel, known);
  return close ? "did you mean '" + *close + "'? " : std::string();
}

// The channels the directory lists (in every topology it serves), to suggest one for a typo;
// nothing when it cannot say.
std::vector<std::string> directory_channels(DirectoryClient& client) {
  std::set<std::string> names;
  try {
    for (const auto& i : client.list().instances) {
      for (const auto& r : i.registrations)
        names.insert(r.channel);
    }
  } catch (const Error&) {
    return {};
  }
  return {names.begin(), names.end()};
}

Topology from_directory(const std::vector<std::string>& endpoints,
                        const std::vector<std::string>& channels, const po::variables_map& vm) {
  std::optional<DirectoryClient> client;
  std::vector<std::pair<std::string, EntriesReply>> replies;
  try {
    client.emplace(endpoints, tool_timeout(endpoints.size()), cli_security(vm, nullptr));
    for (const auto& channel : channels)
      replies.emplace_back(channel, client->resolve(channel));
  } catch (const Error& e) {
    throw Exit(kExitUnreachable, std::string(e.what()) +
                                     "\nhint: start the topology (brook up), or pass --directory "
                                     "EP / --topology FILE");
  }
  const std::string endpoint = client->endpoint();  // the one that answered
  std::set<std::string> topologies;
  for (const auto& [channel, reply] : replies) {
    if (reply.entries.empty()) {
      const std::vector<std::string> known = directory_channels(*client);
      throw Exit(kExitFailed,
                 "channel '" + channel + "' is unknown to the directory at " + endpoint +
                     ": no live node reads or writes it (" + did_you_mean(channel, known) +
                     (known.empty() ? "" : "live channels: " + detail::join(known) + "; ") +
                     "check the name with brook ls, or pass --topology FILE)");
    }
    // The tool joins the channel in the scope of the topology that has it.
    for (const auto& e : reply.entries)
      topologies.insert(e.topology);
  }
  if (topologies.size() > 1) {
    std::string names;
    for (const auto& n : topologies)
      names += (names.empty() ? "'" : ", '") + n + "'";
    throw Exit(kExitUsage,
               "channel" + std::string(channels.size() > 1 ? "s '" : " '") +
                   detail::join(channels) + "' " + (channels.size() > 1 ? "are" : "is") + " in " +
                   std::to_string(topologies.size()) + " topologies on the directory at " +
                   endpoint + " (" + names + "); pass --topology FILE for the one you mean");
  }
  Topology t;
  t.name = *topologies.begin();
  t.directory.endpoints = endpoints;  // the tool registers with and watches every one
  // Consumers the directory knows become declared consumers, so a writer waits for them.
  std::map<std::string, NodeSpec> readers;
  for (const auto& [channel, reply] : replies) {
    ChannelSpec ch;
    ch.name = channel;
    ch.pattern = reply.entries.front().reg.pattern;
    t.channels.push_back(ch);
    for (const auto& e : reply.entries) {
      if (e.reg.direction != Direction::kIn || e.reg.tap) continue;
      NodeSpec& n = readers[e.node];
      if (n.name.empty()) {
        n.name = e.node;
        n.replicas = 1 << 16;  // not launched; only its inputs matter
      }
      // By name: clang 14 cannot capture a structured binding.
      if (std::any_of(n.inputs.begin(), n.inputs.end(),
                      [&name = ch.name](const PortSpec& p) { return p.channel == name; }))
        continue;
      PortSpec p;
      p.port = "in" + std::to_string(n.inputs.size());
      p.channel = channel;
      n.inputs.push_back(std::move(p));
    }
  }
  for (auto& [name, n] : readers)
    t.nodes.push_back(std::move(n));
  return t;
}

}  // namespace

ToolTopology tool_topology(const po::variables_map& vm, const std::string& channel,
                           const std::string& tool, ToolSide side) {
  return tool_topology(vm, std::vector<std::string>{channel}, {"port"}, tool, side);
}

ToolTopology tool_topology(const po::variables_map& vm, const std::vector<std::string>& channels,
                           const std::vector<std::string>& ports, const std::string& tool,
                           ToolSide side) {
  Topology t;
  if (vm.count("topology")) {
    t = load(vm["topology"].as<std::string>(), vm);
    for (const auto& channel : channels) {
      if (t.channel(channel) != nullptr) continue;
      std::vector<std::string> names;
      for (const auto& c : t.channels)
        names.push_back(c.name);
      throw Exit(kExitFailed, "channel '" + channel + "' is not in topology '" + t.name + "' (" +
                                  t.file.string() + "; " + did_you_mean(channel, names) +
                                  "channels: " + detail::join(names) + ")");
    }
    if (auto eps = directory_options(vm); !eps.empty()) t.directory.endpoints = eps;
    // The runtime would wait for the directory forever; say at once that none is there.
    const std::vector<std::string> eps = directory_endpoints(vm, &t);
    try {
      DirectoryClient(eps, tool_timeout(eps.size()), cli_security(vm, &t)).hello();
    } catch (const Error& e) {
      throw Exit(
          kExitUnreachable,
          std::string(e.what()) + "\nhint: start the topology (brook up), or pass --directory EP");
    }
  } else {
    t = from_directory(directory_endpoints(vm, nullptr), channels, vm);
  }
  // The tool's node connects and registers with the CLI's key, which `--keys` may choose.
  t.security = cli_security_spec(vm, &t);
  ToolTopology out;
  out.directories =
      t.directory.endpoints.empty() ? directory_endpoints(vm, nullptr) : t.directory.endpoints;
  out.pattern = t.channel(channels.front())->pattern;
  out.consumer_groups = t.consumers(channels.front()).size();
  out.node = tool_node_name(tool, t.security.mechanism == Mechanism::kCurve);
  if (vm.count("key-file")) out.key_file = vm["key-file"].as<std::string>();
  NodeSpec n;
  n.name = out.node;
  for (std::size_t i = 0; i < channels.size(); ++i) {
    PortSpec port;
    port.port = ports.at(i);
    port.channel = channels[i];
    (side == ToolSide::kReader ? n.inputs : n.outputs).push_back(std::move(port));
  }
  n.ready_timeout = std::chrono::seconds(5);
  n.drain_timeout = std::chrono::seconds(5);
  t.nodes.push_back(std::move(n));
  out.topology = std::make_shared<const Topology>(std::move(t));
  return out;
}

std::vector<std::string> known_channels(const po::variables_map& vm) {
  std::vector<std::string> names;
  if (vm.count("topology")) {
    for (const auto& c : load(vm["topology"].as<std::string>(), vm).channels)
      names.push_back(c.name);
    return names;
  }
  const std::vector<std::string> eps = directory_endpoints(vm, nullptr);
  try {
    DirectoryClient client(eps, tool_timeout(eps.size()), cli_security(vm, nullptr));
    client.hello();
    return directory_channels(client);
  } catch (const Error& e) {
    throw Exit(kExitUnreachable, std::string(e.what()) +
                                     "\nhint: start the topology (brook up), or pass --directory "
                                     "EP / --topology FILE");
  }
}

std::string ToolTopology::directory() const {
  return detail::join(directories);
}

NodeOptions tool_node_options(const ToolTopology& tt) {
  NodeOptions no;
  no.preloaded = tt.topology;
  no.node = tt.node;
  no.identity = kCliIdentity;
  no.key_file = tt.key_file;
  no.directory = tt.directories;
  no.log_level = LogLevel::kWarn;
  return no;
}

WriteResult run_writer(const ToolTopology& tt, const std::string& channel,
                       const std::function<void(Node&, std::uint64_t&)>& emit_all) {
  Node node(tool_node_options(tt));
  WriteResult r;
  node.on_ready([&] {
    try {
      emit_all(node, r.sent);
    } catch (const Error& e) {
      r.failure = e.what();
    }
    node.stop();
  });
  // Readiness is bounded by the ready timeout once registered; this bounds everything else.
  node.after(std::chrono::seconds(30), [&] {
    if (r.failure.empty()) r.failure = "gave up after 30 s";
    node.stop();
  });
  const int rc = node.run();
  if (const auto it = node.counters().channels.find(channel);
      it != node.counters().channels.end()) {
    r.undelivered = it->second.pending + it->second.in_flight;  // at-least-once: unacknowledged
  }
  r.ok = rc == 0 && r.failure.empty() && r.undelivered == 0;
  return r;
}

}  // namespace brook::cli
