// Finding the program behind a node's `exec` (docs/topology.md, "Exec resolution"). One rule for
// the loader (so `brook check`) and `brook up`, so that both say the same about a missing program.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace brook::detail {

struct ExecLookup {
  std::filesystem::path path;  // absolute and normal; empty when not found
  std::string problem;         // when not found: "exec 'x' not found ..." naming where it looked
  std::string hint;            // when not found: how to fix it
};

// An `exec` containing '/' is relative to `base_dir` (the topology file's directory; absolute
// paths stay); a bare name is looked up in each of `search_path` (the CLI passes the directory
// of `brook` and $BROOK_PATH's), then in each directory of `path_variable` ($PATH's value).
ExecLookup find_exec(const std::string& exec, const std::filesystem::path& base_dir,
                     const std::vector<std::filesystem::path>& search_path,
                     const std::string& path_variable);

}  // namespace brook::detail
