// Turning the (substituted, overridden) YAML tree into a Topology, with every problem reported.
#pragma once

#include <yaml-cpp/yaml.h>

#include <brook/topology.hpp>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "topology/diagnostics.hpp"
#include "topology/schema.hpp"
#include "topology/substitution.hpp"

namespace brook::detail {

// A port item's `pattern:`, checked against the channel once all channels are known.
struct PatternAssertion {
  std::string node;
  std::string direction;  // "input" or "output"
  std::string port;
  std::string channel;
  Pattern pattern = Pattern::kPipeline;
  SourceLocation where;
};

// What validation needs beyond the Topology itself.
struct Decoded {
  Topology topology;
  std::vector<PatternAssertion> assertions;
  std::vector<SourceLocation> exec_where;  // parallel to topology.nodes
  std::vector<SourceLocation> host_where;  // parallel to topology.nodes; line 0: no host:
};

Decoded decode_topology(const YAML::Node& root, DiagnosticSink& sink);

void decode_directory(DiagnosticSink& sink, const Entry* entry, DirectorySpec& out);
// directory.http (decode_directory_http.cpp): stored normalised, "127.0.0.1:9464".
void decode_directory_http(DiagnosticSink& sink, const Entry& e, std::string& out);
void decode_channels(DiagnosticSink& sink, const Entry& entry, std::vector<ChannelSpec>& out);
void decode_nodes(DiagnosticSink& sink, const Entry& entry, Decoded& out);
void decode_security(DiagnosticSink& sink, const Entry& entry, SecuritySpec& out);
void decode_tracing(DiagnosticSink& sink, const Entry& entry, TracingSpec& out);
void decode_hosts(DiagnosticSink& sink, const Entry& entry, std::vector<HostSpec>& out);
void decode_log(DiagnosticSink& sink, const Entry& entry, LogSpec& out);
// A node's `host:`: one name, or a list of names (one per replica).
void decode_node_hosts(DiagnosticSink& sink, const Entry& e, std::vector<std::string>& out);
// Host references: undeclared hosts, nodes without one, lists not matching replicas,
// directory endpoints no host runs.
void check_hosts(const Decoded& decoded, DiagnosticSink& sink);

// Cross references: undeclared channels, pattern assertions, channels nobody feeds or reads.
void check_channel_use(const Decoded& decoded, DiagnosticSink& sink);
// Warnings across hops (cross_hop_checks.cpp): acknowledgement chains longer than an
// ack_timeout, order_by that cannot hold, pubsub feeding nodes that need every message.
void check_cross_hops(const Topology& t, DiagnosticSink& sink);

// Fills NodeSpec::exec_path; a missing program is a warning, `brook check` may run elsewhere.
void resolve_execs(Decoded& decoded, const std::filesystem::path& base_dir,
                   const std::vector<std::filesystem::path>& search_path, const EnvLookup& env,
                   DiagnosticSink& sink);

}  // namespace brook::detail
