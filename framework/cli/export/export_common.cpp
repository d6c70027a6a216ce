#include <brook/error.hpp>

#include "export/export.hpp"
#include "launch/launch_plan.hpp"

namespace brook::exporting {

std::vector<Instance> all_instances(const Topology& t) {
  std::vector<Instance> out;
  for (const auto& n : t.nodes) {
    for (int i = 0; i < n.replicas; ++i)
      out.push_back({&n, static_cast<std::uint32_t>(i)});
  }
  return out;
}

HostPlan host_plan(const Topology& t, const ExportOptions& o) {
  // Hosts are not in the topology yet (issue 19): only this machine. Once `Topology::hosts`
  // lands, a declared host keeps the instances whose host_of(i) it is, the endpoints
  // directory_endpoints_on() gives it, advertise = its address and bind = its bind.
  if (o.host) {
    throw UsageError("--host " + *o.host + ": topology '" + t.name + "' (" + t.file.string() +
                     ") declares no hosts (hint: leave --host out to export every instance "
                     "for this machine, or declare hosts: in the topology)");
  }
  HostPlan plan;
  plan.advertise = o.advertise;
  if (!t.directory.external) plan.directories = t.directory.endpoints;
  plan.instances = all_instances(t);
  return plan;
}

std::vector<const NodeSpec*> started_before(const Topology& t, const NodeSpec& node) {
  const auto plan = launch::start_plan(t, launch::start_levels(t));
  for (const auto& step : plan) {
    if (step.node == &node) return step.waits_for;
  }
  return {};
}

std::string dns_name(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    out += ok ? c : '-';
  }
  while (!out.empty() && out.front() == '-')
    out.erase(out.begin());
  while (!out.empty() && out.back() == '-')
    out.pop_back();
  return out.empty() ? "x" : out;
}

std::string endpoint_port(const std::string& endpoint) {
  const auto colon = endpoint.rfind(':');
  return colon == std::string::npos ? "5670" : endpoint.substr(colon + 1);
}

}  // namespace brook::exporting
