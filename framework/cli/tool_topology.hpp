// Topologies for the CLI's own short-lived nodes (`brook tap`, `brook send`): the user's file
// when given, else one learned from the directory, plus a node for the tool attached to one
// channel. The tool then runs on the ordinary node runtime (registration, watch, handshakes).
#pragma once

#include <brook/node.hpp>
#include <brook/topology.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cli_common.hpp"

namespace brook::cli {

enum class ToolSide { kReader, kWriter };

struct ToolTopology {
  std::shared_ptr<const Topology> topology;
  std::string node;                      // the tool's node name in it ("brook-tap-4242")
  std::vector<std::string> directories;  // endpoints used, all registered with
  // For messages: the endpoints, comma-separated.
  std::string directory() const;
  std::filesystem::path key_file;  // --key, if given
  Pattern pattern = Pattern::kPipeline;
  std::size_t consumer_groups = 0;  // nodes reading the channel (excluding taps)
};

// The options of the tool node of `tt`: its preloaded topology, the CLI's identity and key, the
// directory it found, warnings only.
NodeOptions tool_node_options(const ToolTopology& tt);

// What a writer tool achieved: messages handed over, and those still held or unacknowledged
// when it stopped (so not known to be delivered).
struct WriteResult {
  bool ok = false;  // ran cleanly, nothing failed, nothing undelivered
  std::uint64_t sent = 0;
  std::uint64_t undelivered = 0;
  std::string failure;  // why emitting stopped, if it did
};

// Runs the tool node of `tt` (a writer): once every consuming node is connected (or after the
// ready timeout) calls `emit_all(node, sent)`, which emits on port "port" and counts into
// `sent`; then stops, waiting for acknowledgements within the drain timeout. Bounded at 30 s.
WriteResult run_writer(const ToolTopology& tt, const std::string& channel,
                       const std::function<void(Node&, std::uint64_t&)>& emit_all);

// Uses --topology/--set/--directory from `vm`. Throws Exit naming the channel when it is not in
// the topology (listing those that are), or unknown to the directory.
ToolTopology tool_topology(const po::variables_map& vm, const std::string& channel,
                           const std::string& tool, ToolSide side);
// The same for several channels (brook record, replay): port `ports[i]` of the tool's node reads
// or writes `channels[i]`; `pattern` and `consumer_groups` describe the first channel. Without
// --topology the channels must all be in one topology of the directory.
ToolTopology tool_topology(const po::variables_map& vm, const std::vector<std::string>& channels,
                           const std::vector<std::string>& ports, const std::string& tool,
                           ToolSide side);
// The channels of --topology, else those live nodes of the directory read or write (exit 3 when
// it does not answer): what channel patterns (brook record 'shop-*') are matched against.
std::vector<std::string> known_channels(const po::variables_map& vm);

}  // namespace brook::cli
