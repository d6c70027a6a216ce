// Collects the diagnostics of one load and knows where each YAML node came from.
#pragma once

#include <yaml-cpp/yaml.h>

#include <brook/topology.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "topology/params_yaml.hpp"

namespace brook::detail {

class DiagnosticSink {
 public:
  explicit DiagnosticSink(std::string file) : file_(std::move(file)) {}

  const std::string& file() const noexcept { return file_; }

  // Nodes put into the tree by an override carry no useful mark; remember which override made
  // them so that their diagnostics point at the --set argument instead of the file.
  void attribute(const YAML::Node& node, const std::string& origin);
  // Diagnostics located at overrides are listed in the order the overrides were given.
  void add_origin(const std::string& origin) { origin_order_.push_back(origin); }
  std::optional<SourceLocation> origin_of(const YAML::Node& node) const;
  // Every node an override made, with its "--set ..." origin: Params errors name them too.
  std::shared_ptr<const OverrideOrigins> overrides() const { return origins_; }
  SourceLocation where(const YAML::Node& node) const;

  void error(SourceLocation where, std::string message, std::string hint = {});
  void warning(SourceLocation where, std::string message, std::string hint = {});
  // A scalar whose substitution failed would otherwise get a second, confusing error about its
  // unsubstituted text; later errors at exactly this position are dropped.
  void mute(const SourceLocation& where);

  bool has_errors() const noexcept { return !errors_.empty(); }
  // Override diagnostics first (in override order), then the file's by position.
  std::vector<Diagnostic> take_errors();
  std::vector<Diagnostic> take_warnings();

 private:
  bool muted(const SourceLocation& where) const;
  void sort(std::vector<Diagnostic>& v) const;

  std::string file_;
  std::shared_ptr<OverrideOrigins> origins_ = std::make_shared<OverrideOrigins>();
  std::vector<std::string> origin_order_;
  std::vector<SourceLocation> muted_;
  std::vector<Diagnostic> errors_;
  std::vector<Diagnostic> warnings_;
};

}  // namespace brook::detail
