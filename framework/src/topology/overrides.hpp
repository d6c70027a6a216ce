// `--set path=value` overrides, applied to the YAML tree before validation.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "topology/diagnostics.hpp"

namespace brook::detail {

// `root` must be a map. Nodes an override creates are attributed to it in `sink`, so that
// validation reports a bad override value at "--set path=value".
void apply_overrides(YAML::Node root, const std::vector<std::string>& overrides,
                     DiagnosticSink& sink);

}  // namespace brook::detail
