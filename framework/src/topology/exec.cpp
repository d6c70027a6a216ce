// Finding the program behind a node's `exec`.
#include "topology/exec.hpp"

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

// Why `p` is not a program we can start, for "… not found: <p> <why>".
std::string why_not_executable(const fs::path& p) {
  std::error_code ec;
  const fs::file_status st = fs::status(p, ec);
  if (ec || !fs::exists(st)) return "does not exist";
  if (fs::is_directory(st)) return "is a directory";
  if (!fs::is_regular_file(st)) return "is not a regular file";
  return "is not executable (chmod +x)";
}

ExecLookup find_path(const std::string& exec, const fs::path& base_dir) {
  const fs::path written(exec);
  const fs::path candidate = absolute_normal(base_dir / written);
  if (is_executable(candidate)) return {candidate, {}, {}};
  ExecLookup r;
  r.problem =
      "exec '" + exec + "' not found: " + candidate.string() + " " + why_not_executable(candidate);
  r.hint = written.is_absolute()
               ? "fix the path, or write a bare name to search $BROOK_PATH and $PATH"
               : "a path with '/' is relative to the topology file's directory, " +
                     absolute_normal(base_dir).string() +
                     "; fix the path, or write a bare name to search $BROOK_PATH and $PATH";
  return r;
}

}  // namespace

ExecLookup find_exec(const std::string& exec, const fs::path& base_dir,
                     const std::vector<fs::path>& search_path, const std::string& path_variable) {
  if (exec.find('/') != std::string::npos) return find_path(exec, base_dir);
  std::vector<fs::path> dirs = search_path;
  for (auto& d : split_path_variable(path_variable))
    dirs.push_back(std::move(d));
  for (const auto& dir : dirs) {
    const fs::path candidate = dir / exec;
    if (is_executable(candidate)) return {absolute_normal(candidate), {}, {}};
  }
  std::string searched;
  for (const auto& dir : search_path)
    searched += (searched.empty() ? "" : ", ") + dir.string();
  ExecLookup r;
  r.problem =
      "exec '" + exec + "' not found in " + (searched.empty() ? "" : searched + " or ") + "$PATH";
  r.hint =
      "build it, add its directory to $BROOK_PATH (or $PATH), or write its path with a '/' "
      "(relative to the topology file)";
  return r;
}

void resolve_execs(Decoded& decoded, const fs::path& base_dir,
                   const std::vector<fs::path>& search_path, const EnvLookup& env,
                   DiagnosticSink& sink) {
  const std::string path_var = env("PATH").value_or("");
  auto& nodes = decoded.topology.nodes;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    NodeSpec& n = nodes[i];
    if (n.exec.empty()) continue;
    ExecLookup found = find_exec(n.exec, base_dir, search_path, path_var);
    if (found.path.empty()) {
      sink.warning(decoded.exec_where[i], std::move(found.problem), std::move(found.hint));
    } else {
      n.exec_path = std::move(found.path);
    }
  }
}

}  // namespace brook::detail
