// A node's scope of its topology file: the file with every `nodes:` and `channels:` entry blanked
// that the node does not need, so that a node of a large topology parses its part only.
//
// `brook up` has loaded and checked the whole file; it hands each node it starts the lines to
// blank in $BROOK_TOPOLOGY_SCOPE ("<node>:<hash of the file>:<ranges>", e.g.
// "relay:9f86d081884c7d65:12-40,44-2000"). The node reads the same file, checks the hash, blanks
// those lines (keeping their line breaks, so every error still names the file's own line) and
// parses what is left without the checks that need the whole topology. A different file (edited
// since, or another one), another node's scope or anything malformed: the whole file is read, as
// without the variable.
//
// What a node needs: the channels of its ports and the dead_letter channels of its inputs, and
// the nodes reading any of those (its outputs' consumer groups). Everything outside the two
// sections stays.
#pragma once

#include <brook/topology.hpp>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace brook::detail {

inline constexpr const char* kTopologyScopeEnv = "BROOK_TOPOLOGY_SCOPE";

// 1-based, inclusive.
using LineRange = std::pair<int, int>;

// Where each entry of `nodes:` and `channels:` is in a topology file's text.
struct ScopeIndex {
  std::uint64_t hash = 0;  // of the text (scope_hash)
  std::map<std::string, LineRange, std::less<>> nodes;
  std::map<std::string, LineRange, std::less<>> channels;
};

// 64 bits, FNV-1a's steps over words: tells a node whether its file is still the one brook up
// read.
std::uint64_t scope_hash(std::string_view text) noexcept;

// The index of a topology file's text, or nullopt when entries cannot be blanked line by line:
// a section in flow style ({...}), an anchor (&) inside the sections (a kept entry could use one
// defined in a blanked one), or text that does not parse. Then nodes read the whole file.
std::optional<ScopeIndex> index_scope(const std::string& text);

// The value of $BROOK_TOPOLOGY_SCOPE for each node of `t` (loaded from the text `index` was made
// of), by node name; a node missing has no scope (an entry whose name the index does not know).
std::map<std::string, std::string> scope_values(const Topology& t, const ScopeIndex& index);

struct TopologyScope {
  std::string node;
  std::uint64_t hash = 0;
  std::vector<LineRange> blank;  // ascending, not overlapping
};

// nullopt when malformed.
std::optional<TopologyScope> parse_scope(std::string_view value);

// `text` with the lines of `blank` emptied (their line breaks kept).
std::string narrow_text(std::string_view text, const std::vector<LineRange>& blank);

// Loads `file` for node `node` as a node process does: narrowed to its scope when `scope` is
// the value brook up gave it for this node and this file; else the whole file.
Topology load_scoped_topology(const std::filesystem::path& file, const std::string& node,
                              const char* scope, const LoadOptions& options);

// parse_topology; `scoped`: the text is one node's scope, so the checks that need the whole
// topology are skipped and overrides of absent nodes and channels ignored (brook up did both on
// the whole file).
Topology parse_topology_text(std::string_view text, const std::string& filename,
                             const LoadOptions& options, bool scoped);

// What load_topology does after parsing `file`: the absolute file, params that name it.
void finish_loaded(Topology& t, const std::filesystem::path& file);

}  // namespace brook::detail
