// Finding the program behind a node's `exec`.
#include <unistd.h>

#include <system_error>

#include "topology/decode.hpp"

namespace brook::detail {

namespace {

namespace fs = std::filesystem;

bool is_executable(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

fs::path absolute_normal(const fs::path& p) {
  std::error_code ec;
  fs::path abs = fs::absolute(p, ec);
  return (ec ? p : abs).lexically_normal();
}

std::vector<fs::path> split_path_variable(const std::string& value) {
  std::vector<fs::path> dirs;
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t colon = value.find(':', start);
    if (colon == std::string::npos) colon = value.size();
    // An empty entry means the current directory to a shell; a topology should not depend on
    // where it is started from, so it is skipped.
    if (colon > start) dirs.emplace_back(value.substr(start, colon - start));
    start = colon + 1;
  }
  return dirs;
}

}  // namespace

void resolve_execs(Decoded& decoded, const fs::path& base_dir,
                   const std::vector<fs::path>& search_path, const EnvLookup& env,
                   DiagnosticSink& sink) {
  std::vector<fs::path> dirs = search_path;
  const std::optional<std::string> path_var = env("PATH");
  for (auto& d : split_path_variable(path_var.value_or("")))
    dirs.push_back(std::move(d));

  auto& nodes = decoded.topology.nodes;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    NodeSpec& n = nodes[i];
    if (n.exec.empty()) continue;
    if (n.exec.find('/') != std::string::npos) {
      const fs::path candidate = absolute_normal(base_dir / n.exec);
      if (is_executable(candidate)) {
        n.exec_path = candidate;
      } else {
        sink.warning(
            decoded.exec_where[i],
            "exec '" + n.exec + "' not found: " + candidate.string() + " is not an executable file",
            "a path with '/' is relative to the topology file's directory");
      }
      continue;
    }
    for (const auto& dir : dirs) {
      const fs::path candidate = dir / n.exec;
      if (is_executable(candidate)) {
        n.exec_path = absolute_normal(candidate);
        break;
      }
    }
    if (n.exec_path.empty()) {
      std::string searched;
      for (const auto& dir : search_path)
        searched += dir.string() + ", ";
      sink.warning(decoded.exec_where[i],
                   "exec '" + n.exec + "' not found in " + searched + "$PATH",
                   "build it, add its directory to PATH, or give a path containing '/'");
    }
  }
}

}  // namespace brook::detail
