#include "topology/yaml_shape.hpp"

#include <utility>
#include <vector>

namespace brook::detail {

std::optional<YamlShapeProblem> check_yaml_shape(const YAML::Node& root) {
  std::vector<std::pair<YAML::Node, std::size_t>> pending{{root, 1}};
  std::size_t visited = 0;
  while (!pending.empty()) {
    auto [node, depth] = std::move(pending.back());
    pending.pop_back();
    if (++visited > kMaxYamlNodes) {
      return YamlShapeProblem{
          node,
          "more than " + std::to_string(kMaxYamlNodes) +
              " YAML values (each use of an alias counts as the values it stands for)",
          "a topology needs far fewer; do not nest aliases of aliases"};
    }
    if (depth > kMaxYamlDepth) {
      return YamlShapeProblem{
          node, "YAML nested more than " + std::to_string(kMaxYamlDepth) + " levels deep",
          "flatten the structure; an alias inside its own anchor (&a [*a]) nests without end"};
    }
    if (node.IsMap()) {
      for (auto it = node.begin(); it != node.end(); ++it) {
        pending.emplace_back(it->first, depth + 1);
        pending.emplace_back(it->second, depth + 1);
      }
    } else if (node.IsSequence()) {
      for (auto it = node.begin(); it != node.end(); ++it)
        pending.emplace_back(*it, depth + 1);
    }
  }
  return std::nullopt;
}

}  // namespace brook::detail
