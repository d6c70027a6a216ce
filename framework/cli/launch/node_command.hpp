// The command line a node instance is started with, by `brook up` and by the units and
// manifests `brook export` writes: the same options, so a node runs alike under either.
#pragma once

#include <brook/topology.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace brook::launch {

struct NodeCommandOptions {
  std::filesystem::path topology;  // the file, as the node should open it
  std::string log_level = "info";
  std::optional<std::string> log_format;  // --log-format; unset: the node's own default
  std::vector<std::string> directory;     // --directory for each: running directories to use
  std::optional<std::string> advertise;   // --advertise: the address peers connect to
  std::optional<std::string> bind;        // --bind: where inputs listen, when not advertise
  std::vector<std::string> overrides;     // --set values
};

// The brook options of instance `instance` of `node` (its own `args` follow them).
std::vector<std::string> node_args(const NodeSpec& node, std::uint32_t instance,
                                   const NodeCommandOptions& o);

// node_args, then the node's own `args`: the whole command line after the program.
std::vector<std::string> node_command_args(const NodeSpec& node, std::uint32_t instance,
                                           const NodeCommandOptions& o);

// brook-directory's options; `bind`: the endpoint it serves (empty: the topology's first).
// `http`: whether it may serve the topology's directory.http; the second directory brook up
// starts on one machine would find that port taken, so only the first does.
std::vector<std::string> directory_args(const NodeCommandOptions& o, const std::string& bind = {},
                                        bool http = true);

// What a directory of `host` serving `endpoint` binds: the host's address and the endpoint's
// port. An endpoint may name its host (tcp://a:5670), which nothing can bind; the address is
// also where the directory tells nodes its change feed is.
std::string directory_bind_on(const HostSpec& host, const std::string& endpoint);

// Where instance `instance` of `node` listens under `--host host`: its address, and its bind
// when the host sets one.
void place_on_host(const HostSpec& host, NodeCommandOptions& o);

}  // namespace brook::launch
