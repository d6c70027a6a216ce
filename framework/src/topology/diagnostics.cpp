// Diagnostic rendering, TopologyError, and the per-load diagnostic collector.
#include "topology/diagnostics.hpp"

#include <algorithm>
#include <tuple>

namespace brook {

std::string SourceLocation::str() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string Diagnostic::str() const {
  std::string s = where.str();
  s += severity == Severity::kError ? ": error: " : ": warning: ";
  s += message;
  if (!hint.empty()) s += " (hint: " + hint + ")";
  return s;
}

namespace {

std::string join_diagnostics(const std::vector<Diagnostic>& diagnostics) {
  std::string s;
  for (const auto& d : diagnostics) {
    if (!s.empty()) s += '\n';
    s += d.str();
  }
  return s;
}

}  // namespace

TopologyError::TopologyError(std::vector<Diagnostic> diagnostics, std::vector<Diagnostic> warnings)
    : Error(join_diagnostics(diagnostics)),
      diagnostics_(std::move(diagnostics)),
      warnings_(std::move(warnings)) {}

namespace detail {

void DiagnosticSink::attribute(const YAML::Node& node, const std::string& origin) {
  origins_->emplace_back(node, origin);
}

std::optional<SourceLocation> DiagnosticSink::origin_of(const YAML::Node& node) const {
  if (!node.IsDefined()) return std::nullopt;
  for (const auto& [n, origin] : *origins_) {
    if (n.is(node)) return SourceLocation{origin, 0, 0};
  }
  return std::nullopt;
}

SourceLocation DiagnosticSink::where(const YAML::Node& node) const {
  if (auto o = origin_of(node)) return *o;
  if (!node.IsDefined()) return SourceLocation{file_, 0, 0};
  const YAML::Mark m = node.Mark();
  if (m.line < 0) return SourceLocation{file_, 0, 0};
  return SourceLocation{file_, m.line + 1, m.column + 1};
}

void DiagnosticSink::error(SourceLocation where, std::string message, std::string hint) {
  if (muted(where)) return;
  errors_.push_back(Diagnostic{Diagnostic::Severity::kError, std::move(where), std::move(message),
                               std::move(hint)});
}

void DiagnosticSink::warning(SourceLocation where, std::string message, std::string hint) {
  warnings_.push_back(Diagnostic{Diagnostic::Severity::kWarning, std::move(where),
                                 std::move(message), std::move(hint)});
}

void DiagnosticSink::mute(const SourceLocation& where) {
  if (where.line > 0) muted_.push_back(where);
}

bool DiagnosticSink::muted(const SourceLocation& where) const {
  return std::any_of(muted_.begin(), muted_.end(), [&](const SourceLocation& m) {
    return m.line == where.line && m.column == where.column && m.file == where.file;
  });
}

void DiagnosticSink::sort(std::vector<Diagnostic>& v) const {
  auto key = [&](const Diagnostic& d) {
    auto it = std::find(origin_order_.begin(), origin_order_.end(), d.where.file);
    const std::size_t rank = static_cast<std::size_t>(it - origin_order_.begin());
    return std::make_tuple(rank, d.where.line, d.where.column);
  };
  std::stable_sort(v.begin(), v.end(),
                   [&](const Diagnostic& a, const Diagnostic& b) { return key(a) < key(b); });
}

std::vector<Diagnostic> DiagnosticSink::take_errors() {
  sort(errors_);
  return std::move(errors_);
}

std::vector<Diagnostic> DiagnosticSink::take_warnings() {
  sort(warnings_);
  return std::move(warnings_);
}

}  // namespace detail
}  // namespace brook
