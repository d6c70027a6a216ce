#include "export/containers.hpp"

#include <algorithm>

namespace brook::exporting {

std::string image_program(const NodeSpec& node) {
  return std::filesystem::path(node.exec).filename().string();
}

std::vector<std::string> args_without_instance(const NodeSpec& node,
                                               const launch::NodeCommandOptions& o) {
  std::vector<std::string> args = launch::node_command_args(node, 0, o);
  const auto at = std::find(args.begin(), args.end(), "--instance");
  if (at != args.end()) args.erase(at, at + 2);
  return args;
}

std::string health_fresh_check(int fresh_s) {
  return "read s t < \"$BROOK_HEALTH_FILE\" && [ $(( $(date +%s) - t )) -lt " +
         std::to_string(fresh_s) + " ]";
}

std::string health_ready_check(int fresh_s) {
  return health_fresh_check(fresh_s) + " && [ \"$s\" = ready ]";
}

int liveness_seconds(const Topology& t) {
  const auto heartbeats = static_cast<int>(10 * t.directory.heartbeat.count() / 1000);
  return std::max(30, heartbeats);
}

std::string port_list(const std::vector<PortSpec>& ports) {
  std::string out;
  for (const auto& p : ports)
    out += (out.empty() ? "" : ",") + p.port + "=" + p.channel;
  return out;
}

}  // namespace brook::exporting
