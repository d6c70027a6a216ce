#include <brook/error.hpp>

#include "export/export.hpp"
#include "launch/launch_plan.hpp"
#include "launch/node_command.hpp"

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
  HostPlan plan;
  if (t.hosts.empty()) {
    if (o.host) {
      throw UsageError("--host " + *o.host + ": topology '" + t.name + "' (" + t.file.string() +
                       ") declares no hosts (hint: leave --host out to export every instance "
                       "for this machine, or declare hosts: in the topology)");
    }
    plan.advertise = o.advertise;
    if (!t.directory.external) plan.directories = t.directory.endpoints;
    plan.instances = all_instances(t);
    return plan;
  }
  std::string names;
  for (const auto& h : t.hosts)
    names += (names.empty() ? "" : ", ") + h.name;
  if (!o.host) {
    throw UsageError("topology '" + t.name + "' (" + t.file.string() + ") declares hosts (" +
                     names + "): export one host at a time (hint: --host " + t.hosts.front().name +
                     ", then the others, each into its own -o directory)");
  }
  const HostSpec* h = t.host(*o.host);
  if (h == nullptr) {
    throw UsageError("--host " + *o.host + ": topology '" + t.name + "' (" + t.file.string() +
                     ") has no host '" + *o.host + "' (hint: one of " + names + ")");
  }
  if (o.advertise) {
    throw UsageError("--advertise: host '" + h->name + "' advertises its address " + h->address +
                     " (" + h->where.str() +
                     "); leave --advertise out, or change the address in hosts:");
  }
  plan.host = h->name;
  launch::NodeCommandOptions placed;
  launch::place_on_host(*h, placed);
  plan.advertise = placed.advertise;
  plan.bind = placed.bind;
  if (!t.directory.external) plan.directories = t.directory_endpoints_on(*h);
  for (const auto& inst : all_instances(t)) {
    const std::string* on = inst.node->host_of(static_cast<int>(inst.index));
    if (on != nullptr && *on == h->name) plan.instances.push_back(inst);
  }
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
