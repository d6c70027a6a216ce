// ${NAME}, ${NAME:-default} and $$ in the scalar values of a topology file.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <optional>
#include <string>

#include "topology/diagnostics.hpp"

namespace brook::detail {

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Rewrites every scalar value (never a key) in place. A scalar that cannot be substituted keeps
// its text, gets one error, and is muted so that validation does not complain about it again.
void substitute_env(YAML::Node root, const EnvLookup& env, DiagnosticSink& sink);

}  // namespace brook::detail
