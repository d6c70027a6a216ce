// `brook export`: deployment files for a topology (docs/deploy.md). Each generator is a plain
// function from a loaded topology to the files it would write, so it is tested without files.
#pragma once

#include <brook/topology.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace brook::exporting {

struct GeneratedFile {
  std::string name;  // relative to the output directory
  std::string text;
};

struct ExportOptions {
  std::vector<std::string> overrides;    // --set: applied already, and passed on to every process
  std::string log_level = "info";        // --log-level for every process
  std::optional<std::string> host;       // systemd: the host to export (topologies with hosts:)
  std::optional<std::string> advertise;  // systemd without hosts: --advertise for every node
  std::string image = "brook:latest";    // kubernetes, compose: holds every node program
  std::filesystem::path directory_program;  // systemd: brook-directory, absolute
  std::string topology_text;                // kubernetes, compose: the file as written
};

// One instance of a node.
struct Instance {
  const NodeSpec* node = nullptr;
  std::uint32_t index = 0;
  std::string name() const { return node->name + "." + std::to_string(index); }
};

// What one host runs: its node instances, its directory endpoints and its addresses. Without
// `hosts:` in the topology, the only host is this machine and runs everything.
struct HostPlan {
  std::string host;                      // empty without hosts:
  std::optional<std::string> advertise;  // --advertise for its nodes
  std::optional<std::string> bind;       // --bind for its nodes
  std::vector<std::string> directories;  // endpoints whose brook-directory runs here
  std::vector<Instance> instances;
};

// Throws UsageError for an unknown host, a --host on a topology without hosts, or a topology
// with hosts exported without --host.
HostPlan host_plan(const Topology& t, const ExportOptions& o);

// Every instance of every node, in file order.
std::vector<Instance> all_instances(const Topology& t);

// Nodes reading `node`'s outputs that start before it (consumers first), as brook up orders
// them: cycles are broken where launch::start_plan breaks them.
std::vector<const NodeSpec*> started_before(const Topology& t, const NodeSpec& node);

// Lower-case letters, digits and '-' only (a DNS label, a unit or service name part).
std::string dns_name(std::string_view s);
// "host:port" or the port of a tcp:// endpoint ("tcp://10.0.0.1:5670" → "5670").
std::string endpoint_port(const std::string& endpoint);

std::vector<GeneratedFile> export_systemd(const Topology& t, const ExportOptions& o);
std::vector<GeneratedFile> export_kubernetes(const Topology& t, const ExportOptions& o);
std::vector<GeneratedFile> export_compose(const Topology& t, const ExportOptions& o);

}  // namespace brook::exporting
