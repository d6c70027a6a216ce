// Bounds on the shape of a parsed YAML tree, checked before anything walks it.
//
// yaml-cpp builds aliases as shared nodes: `&a [*a]` is a cycle, and anchors reusing anchors
// ("billion laughs") make a few lines stand for billions of nodes. Every walk over the tree
// (substitution, overrides, validation, Params) would recurse without end or run for hours.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <optional>
#include <string>

namespace brook::detail {

inline constexpr std::size_t kMaxYamlDepth = 64;
// Counting every use of an alias as the nodes it stands for.
inline constexpr std::size_t kMaxYamlNodes = 200000;

struct YamlShapeProblem {
  YAML::Node where;  // the node past the limit
  std::string message;
  std::string hint;
};

// The first limit `root` exceeds, if any. Does not recurse.
std::optional<YamlShapeProblem> check_yaml_shape(const YAML::Node& root);

}  // namespace brook::detail
