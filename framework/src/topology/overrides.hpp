// `--set path=value` overrides, applied to the YAML tree before validation.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "topology/diagnostics.hpp"

namespace brook::detail {

// `root` must be a map. Nodes an override creates are attributed to it in `sink`, so that
// validation reports a bad override value at "--set path=value". `skip_undeclared`: an override
// of a node or channel the tree lacks is ignored, not an error (a node's scope, scope.hpp, lacks
// what it does not need; brook up checked the overrides against the whole file).
void apply_overrides(YAML::Node root, const std::vector<std::string>& overrides,
                     DiagnosticSink& sink, bool skip_undeclared = false);

}  // namespace brook::detail
