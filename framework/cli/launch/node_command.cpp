#include "launch/node_command.hpp"

namespace brook::launch {

std::vector<std::string> node_args(const NodeSpec& node, std::uint32_t instance,
                                   const NodeCommandOptions& o) {
  std::vector<std::string> args{"--topology", o.topology.string(),      "--node",      node.name,
                                "--instance", std::to_string(instance), "--log-level", o.log_level};
  if (o.log_format) args.insert(args.end(), {"--log-format", *o.log_format});
  for (const auto& d : o.directory)
    args.insert(args.end(), {"--directory", d});
  if (o.advertise) args.insert(args.end(), {"--advertise", *o.advertise});
  if (o.bind) args.insert(args.end(), {"--bind", *o.bind});
  for (const auto& ov : o.overrides)
    args.insert(args.end(), {"--set", ov});
  return args;
}

std::string directory_bind_on(const HostSpec& host, const std::string& endpoint) {
  const auto colon = endpoint.rfind(':');
  return "tcp://" + host.address + (colon == std::string::npos ? ":5670" : endpoint.substr(colon));
}

void place_on_host(const HostSpec& host, NodeCommandOptions& o) {
  o.advertise = host.address;
  if (!host.bind.empty()) o.bind = host.bind;
}

std::vector<std::string> node_command_args(const NodeSpec& node, std::uint32_t instance,
                                           const NodeCommandOptions& o) {
  std::vector<std::string> args = node_args(node, instance, o);
  args.insert(args.end(), node.args.begin(), node.args.end());
  return args;
}

std::vector<std::string> directory_args(const NodeCommandOptions& o, const std::string& bind,
                                        bool http) {
  std::vector<std::string> args{"--topology", o.topology.string(), "--log-level", o.log_level};
  if (o.log_format) args.insert(args.end(), {"--log-format", *o.log_format});
  if (!bind.empty()) args.insert(args.end(), {"--bind", bind});
  if (!http) args.insert(args.end(), {"--http", "off"});
  for (const auto& ov : o.overrides)
    args.insert(args.end(), {"--set", ov});
  return args;
}

}  // namespace brook::launch
