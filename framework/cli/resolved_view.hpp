// The resolved document of one node instance (docs/cli.md, "brook resolve"): what the C++
// runtime of that instance uses, as JSON, for nodes written in other languages. `brook resolve`
// prints it; `brook up` hands it to every node in the file $BROOK_RESOLVED.
#pragma once

#include <brook/node.hpp>
#include <brook/params.hpp>
#include <brook/topology.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace brook::cli {

inline constexpr int kResolvedVersion = 1;

// The options of a node process started with `argv` (argv[0]: its name), parsed by the node's
// own parser, so its defaults and checks apply. Throws UsageError as the node would.
NodeOptions node_options(const std::vector<std::string>& argv);

// A node's params with YAML's core schema types: plain scalars become null, booleans, integers
// and floats where they read as such, quoted scalars and the rest stay strings.
nlohmann::json params_json(const Params& params);

// Which nodes write and read each channel of a topology (its producers, and for a dead_letter
// channel the readers of the channels naming it; its consumers), in file order: made once for
// the documents of many instances, which would otherwise each search every node.
struct ChannelUsers {
  explicit ChannelUsers(const Topology& t);
  std::map<std::string, std::vector<const NodeSpec*>, std::less<>> writers;
  std::map<std::string, std::vector<const NodeSpec*>, std::less<>> readers;
};

// The document of instance `options.instance` of `node` (a node of `t`), with the directory
// endpoints, advertise host and timeouts of `options` as the runtime applies them. Relative
// state_dir is made absolute against the current directory (where the node runs). `users`:
// ChannelUsers(t), when the caller has it.
nlohmann::json resolved_view(const Topology& t, const NodeSpec& node, const NodeOptions& options,
                             const ChannelUsers* users = nullptr);

// Loads the topology as the node of `options` would and returns its document. Throws
// TopologyError for a bad topology, ConfigError for an unknown node or an instance out of range,
// Error for an unreadable file.
nlohmann::json resolve_instance(const NodeOptions& options);

}  // namespace brook::cli
