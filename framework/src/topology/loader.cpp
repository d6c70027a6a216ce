// load_topology / parse_topology: parse, substitute, override, decode, check, resolve.
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>

#include "topology/decode.hpp"
#include "topology/overrides.hpp"
#include "topology/params_yaml.hpp"
#include "topology/scope.hpp"
#include "topology/substitution.hpp"
#include "topology/yaml_documents.hpp"
#include "topology/yaml_shape.hpp"

namespace brook {

namespace {

namespace fs = std::filesystem;

std::optional<std::string> getenv_lookup(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

void check_size(std::size_t size, const std::string& filename, std::size_t limit) {
  if (size <= limit) return;
  throw Error(filename + ": topology file is " + std::to_string(size) +
              " bytes, more than the limit of " + std::to_string(limit) + " bytes");
}

// Whether line `line` (1-based) of `text`, or the one before, holds an unquoted "${": inside a
// flow collection YAML reads its '{' as the start of a map, so the error comes out as "end of
// map flow not found" far from the cause.
bool near_unquoted_substitution(std::string_view text, int line) {
  int at = 1;
  for (std::size_t begin = 0; begin <= text.size() && at <= line; ++at) {
    const std::size_t end = std::min(text.find('\n', begin), text.size());
    const std::string_view l = text.substr(begin, end - begin);
    if (at >= line - 1) {
      for (std::size_t pos = l.find("${"); pos != std::string_view::npos;
           pos = l.find("${", pos + 2)) {
        const bool quoted = pos > 0 && (l[pos - 1] == '"' || l[pos - 1] == '\'');
        if (!quoted) return true;
      }
    }
    begin = end + 1;
  }
  return false;
}

// A syntax error stops everything: without a tree there is nothing else to check.
YAML::Node parse_yaml(std::string_view text, detail::DiagnosticSink& sink) {
  detail::YamlDocuments docs;
  try {
    docs = detail::load_documents(std::string(text));
  } catch (const YAML::Exception& e) {
    const int line = e.mark.line < 0 ? 0 : e.mark.line + 1;
    const int column = e.mark.column < 0 ? 0 : e.mark.column + 1;
    sink.error(SourceLocation{sink.file(), line, column}, "invalid YAML: " + e.msg,
               near_unquoted_substitution(text, line)
                   ? "quote a ${VAR} inside {...} or [...], e.g. {n: \"${N:-3}\"}: unquoted, YAML "
                     "reads its '{' as the start of a map"
                   : "check indentation, quoting and brackets at or just before this position");
    throw TopologyError(sink.take_errors());
  }
  if (docs.count == 0) return YAML::Node(YAML::NodeType::Null);
  if (auto problem = detail::check_yaml_shape(docs.first)) {
    sink.error(sink.where(problem->where), std::move(problem->message), std::move(problem->hint));
    throw TopologyError(sink.take_errors());
  }
  if (docs.count > 1) {
    sink.error(SourceLocation{sink.file(), docs.second.line + 1, docs.second.column + 1},
               "expected one YAML document, found " + std::to_string(docs.count),
               "remove the '---' separators; a file holds one topology");
  }
  return docs.first;
}

std::string read_file(const fs::path& file, const LoadOptions& options) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) throw Error("cannot read topology file " + file.string() + ": " + ec.message());
  check_size(static_cast<std::size_t>(size), file.string(), options.max_file_size);
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error("cannot open topology file " + file.string());
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error("cannot read topology file " + file.string());
  return std::move(text).str();
}

}  // namespace

Topology parse_topology(std::string_view text, const std::string& filename,
                        const LoadOptions& options) {
  return detail::parse_topology_text(text, filename, options, false);
}

Topology detail::parse_topology_text(std::string_view text, const std::string& filename,
                                     const LoadOptions& options, bool scoped) {
  check_size(text.size(), filename, options.max_file_size);
  const detail::EnvLookup env = options.env ? options.env : detail::EnvLookup(getenv_lookup);
  detail::DiagnosticSink sink(filename);

  YAML::Node root = parse_yaml(text, sink);
  detail::substitute_env(root, env, sink);
  if (root.IsMap()) detail::apply_overrides(root, options.overrides, sink, scoped);

  detail::Decoded decoded = detail::decode_topology(root, sink);
  // A scope holds the nodes it reads about without their other channels: brook up checked how
  // every channel is used, on the whole file.
  if (!scoped) detail::check_channel_use(decoded, sink);
  detail::check_hosts(decoded, sink);
  if (!scoped) detail::check_cross_hops(decoded.topology, sink);
  if (options.resolve_execs) {
    std::error_code ec;
    fs::path base = fs::absolute(fs::path(filename), ec).parent_path();
    if (ec) base = fs::path(filename).parent_path();
    detail::resolve_execs(decoded, base, options.exec_search_path, env, sink);
  }

  // Relative key directories are relative to the topology file, like exec paths with a '/'.
  auto& keys = decoded.topology.security.keys;
  if (!keys.empty() && keys.is_relative() && !filename.empty()) {
    std::error_code ec;
    const fs::path dir = fs::absolute(fs::path(filename), ec).parent_path();
    if (!ec) keys = (dir / keys).lexically_normal();
  }

  auto& spans = decoded.topology.tracing.spans;
  if (!spans.empty() && spans.is_relative() && !filename.empty()) {
    std::error_code ec;
    const fs::path dir = fs::absolute(fs::path(filename), ec).parent_path();
    if (!ec) spans = (dir / spans).lexically_normal();
  }

  // Warnings travel with the errors: `brook check` shows everything it found in one run.
  if (sink.has_errors()) throw TopologyError(sink.take_errors(), sink.take_warnings());
  decoded.topology.warnings = sink.take_warnings();
  return std::move(decoded.topology);
}

Topology load_topology(const fs::path& file, const LoadOptions& options) {
  Topology t = parse_topology(read_file(file, options), file.string(), options);
  detail::finish_loaded(t, file);
  return t;
}

void detail::finish_loaded(Topology& t, const fs::path& file) {
  std::error_code ec;
  t.file = fs::absolute(file, ec).lexically_normal();
  // Params errors name the file as Topology::file does, like the runtime's other messages.
  for (NodeSpec& n : t.nodes) {
    n.params = detail::with_file(n.params, t.file.string(), n.name);
  }
}

Topology detail::load_scoped_topology(const fs::path& file, const std::string& node,
                                      const char* scope, const LoadOptions& options) {
  std::string text = read_file(file, options);
  bool scoped = false;
  if (scope != nullptr && *scope != '\0') {
    const auto s = parse_scope(scope);
    if (s && s->node == node && s->hash == scope_hash(text)) {
      text = narrow_text(text, s->blank);
      scoped = true;
    }
  }
  Topology t = parse_topology_text(text, file.string(), options, scoped);
  finish_loaded(t, file);
  return t;
}

}  // namespace brook
