#include "resolved_view.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "runtime/node_engine.hpp"
#include "topology/params_yaml.hpp"

namespace brook::cli {

namespace {

using nlohmann::json;

std::int64_t ms(std::chrono::milliseconds d) {
  return static_cast<std::int64_t>(d.count());
}

// YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), the types a reader
// in another language expects; yaml-cpp, which the runtime reads params with, agrees on these.
json plain_scalar(const std::string& s) {
  static const std::regex kNull("~|null|Null|NULL|");
  static const std::regex kTrue("true|True|TRUE");
  static const std::regex kFalse("false|False|FALSE");
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kHex("0x[0-9a-fA-F]+");
  static const std::regex kOct("0o[0-7]+");
  static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  if (std::regex_match(s, kNull)) return nullptr;
  if (std::regex_match(s, kTrue)) return true;
  if (std::regex_match(s, kFalse)) return false;
  const char* begin = s.data();
  const char* end = s.data() + s.size();
  if (std::regex_match(s, kInt)) {
    if (*begin == '+') ++begin;
    std::int64_t v = 0;
    if (auto r = std::from_chars(begin, end, v); r.ec == std::errc{} && r.ptr == end) return v;
    std::uint64_t u = 0;
    if (auto r = std::from_chars(begin, end, u); r.ec == std::errc{} && r.ptr == end) return u;
    return s;  // beyond 64 bits: a double would change it
  }
  const bool hex = std::regex_match(s, kHex);
  if (hex || std::regex_match(s, kOct)) {
    std::uint64_t u = 0;
    if (auto r = std::from_chars(begin + 2, end, u, hex ? 16 : 8);
        r.ec == std::errc{} && r.ptr == end) {
      return u;
    }
    return s;
  }
  if (std::regex_match(s, kFloat)) {
    // strtod rather than from_chars: "5." and ".5" are YAML floats that from_chars refuses.
    char* stop = nullptr;
    const double d = std::strtod(s.c_str(), &stop);
    if (stop == end && std::isfinite(d)) return d;
  }
  return s;  // .inf and .nan included: JSON has no such numbers
}

json yaml_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      // "!" is the tag of a quoted scalar: "5" stays a string.
      return n.Tag() == "!" ? json(n.Scalar()) : plain_scalar(n.Scalar());
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : n)
        out.push_back(yaml_json(item));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : n) {
        const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : YAML::Dump(kv.first);
        out[key] = yaml_json(kv.second);
      }
      return out;
    }
    default:
      return nullptr;
  }
}

json node_list(const std::vector<const NodeSpec*>& nodes) {
  json out = json::array();
  for (const NodeSpec* n : nodes)
    out.push_back({{"node", n->name}, {"replicas", n->replicas}});
  return out;
}

const std::vector<const NodeSpec*>& users_of(
    const std::map<std::string, std::vector<const NodeSpec*>, std::less<>>& users,
    const std::string& channel) {
  static const std::vector<const NodeSpec*> kNone;
  const auto it = users.find(channel);
  return it == users.end() ? kNone : it->second;
}

json channel_json(const ChannelSpec& c, const ChannelUsers& users) {
  return {{"pattern", to_string(c.pattern)},
          {"delivery", to_string(c.delivery)},
          {"max_message_size", c.max_message_size},
          {"hwm", c.hwm},
          {"max_pending", c.max_pending},
          {"on_full", to_string(c.on_full)},
          {"block_timeout_ms", ms(c.block_timeout)},
          {"ack_timeout_ms", ms(c.ack_timeout)},
          {"window", c.window},
          {"retry",
           {{"max_attempts", c.retry.max_attempts},
            {"initial_ms", ms(c.retry.initial)},
            {"max_ms", ms(c.retry.max)}}},
          {"dead_letter", c.dead_letter.empty() ? json(nullptr) : json(c.dead_letter)},
          {"order_by", c.order_by_key ? json("key") : json(nullptr)},
          {"timeout_ms", ms(c.timeout)},
          {"idempotent", c.idempotent},
          {"external", c.external},
          {"producers", node_list(users_of(users.writers, c.name))},
          {"consumers", node_list(users_of(users.readers, c.name))}};
}

}  // namespace

ChannelUsers::ChannelUsers(const Topology& t) {
  std::map<std::string_view, const ChannelSpec*> channels;
  for (const auto& c : t.channels)
    channels.emplace(c.name, &c);
  auto add = [](std::vector<const NodeSpec*>& nodes, const NodeSpec& n) {
    if (nodes.empty() || nodes.back() != &n) nodes.push_back(&n);  // once per node
  };
  for (const auto& n : t.nodes) {
    for (const auto& p : n.outputs)
      add(writers[p.channel], n);
    for (const auto& p : n.inputs) {
      add(readers[p.channel], n);
      // The node itself sends what its handlers give up on to the dead_letter channel.
      const auto c = channels.find(p.channel);
      if (c != channels.end() && !c->second->dead_letter.empty())
        add(writers[c->second->dead_letter], n);
    }
  }
}

NodeOptions node_options(const std::vector<std::string>& argv) {
  std::vector<const char*> cargv;
  for (const auto& a : argv)
    cargv.push_back(a.c_str());
  std::ostringstream help;
  auto options = NodeOptions::parse(static_cast<int>(cargv.size()), cargv.data(), help);
  if (!options) throw UsageError("--help is not a node option here");
  return std::move(*options);
}

json params_json(const Params& params) {
  const YAML::Node& map = detail::yaml_of(params);
  return map.IsMap() ? yaml_json(map) : json::object();
}

json resolved_view(const Topology& t, const NodeSpec& node, const NodeOptions& options,
                   const ChannelUsers* users) {
  std::optional<ChannelUsers> own;
  if (users == nullptr) users = &own.emplace(t);
  json inputs = json::object();
  json outputs = json::object();
  std::set<std::string> channel_names;
  for (const auto& p : node.inputs) {
    inputs[p.port] = {{"channel", p.channel}};
    channel_names.insert(p.channel);
    // The node itself sends what its handlers give up on to the dead_letter channel.
    if (const ChannelSpec* c = t.channel(p.channel); c != nullptr && !c->dead_letter.empty())
      channel_names.insert(c->dead_letter);
  }
  for (const auto& p : node.outputs) {
    outputs[p.port] = {
        {"channel", p.channel}, {"durable", p.durable}, {"fsync", to_string(p.fsync)}};
    channel_names.insert(p.channel);
  }
  json channels = json::object();
  for (const auto& name : channel_names) {
    if (const ChannelSpec* c = t.channel(name)) channels[name] = channel_json(*c, *users);
  }

  const SecuritySpec& sec = t.security;
  const bool curve = sec.mechanism == Mechanism::kCurve;
  json env = json::object();
  for (const auto& [k, v] : node.env)
    env[k] = v;
  return {
      {"version", kResolvedVersion},
      {"topology", t.name},
      {"file", t.file.empty() ? json(nullptr) : json(t.file.string())},
      {"node", node.name},
      {"instance", options.instance},
      {"instance_name", node.name + "." + std::to_string(options.instance)},
      {"replicas", node.replicas},
      {"job", node.job},
      {"params", params_json(node.params)},
      {"env", env},
      {"advertise", options.advertise},
      {"bind", options.bind.empty() ? options.advertise : options.bind},
      {"state_dir", std::filesystem::absolute(t.state_dir).lexically_normal().string()},
      {"log_format", t.log.format ? json(std::string(to_string(*t.log.format))) : json(nullptr)},
      {"ready_timeout_ms", ms(options.ready_timeout.value_or(node.ready_timeout))},
      {"drain_timeout_ms", ms(options.drain_timeout.value_or(node.drain_timeout))},
      {"directory",
       {{"endpoints", options.directory.empty() ? t.directory.endpoints : options.directory},
        {"ttl_ms", ms(t.directory.ttl)},
        {"heartbeat_ms", ms(t.directory.heartbeat)},
        {"external", t.directory.external}}},
      {"security",
       {{"mechanism", curve ? "curve" : "none"},
        {"keys", curve ? json(std::filesystem::absolute(sec.keys).string()) : json(nullptr)},
        {"handshake_timeout_ms", ms(sec.handshake_timeout)}}},
      {"inputs", inputs},
      {"outputs", outputs},
      {"channels", channels},
  };
}

json resolve_instance(const NodeOptions& options) {
  const Topology t = detail::load_node_topology(options);
  return resolved_view(t, detail::node_instance_spec(t, options), options);
}

}  // namespace brook::cli
