// The YAML side of brook::Params, for the library's own code (the topology decoder, tests).
#pragma once

#include <yaml-cpp/yaml.h>

#include <brook/params.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace brook::detail {

// Values put into the tree by `--set`, each with the argument that set it ("--set a.b=c"): they
// have no position in the file, so their errors name the argument instead.
using OverrideOrigins = std::vector<std::pair<YAML::Node, std::string>>;

struct ParamTree {
  // A map, or null for no params. It shares the topology document's memory: only const access,
  // since Params is read from several threads.
  YAML::Node map;
  std::string origin;                                // e.g. "shop.yaml: nodes.pricing.params"
  std::string file;                                  // for "file:line:col" in errors
  std::shared_ptr<const OverrideOrigins> overrides;  // may be null
};

struct ParamAccess {
  static Params make(std::shared_ptr<const ParamTree> tree) { return Params(std::move(tree)); }
  static const ParamTree* tree(const Params& p) noexcept { return p.tree_.get(); }
};

// `map` is shared, not copied (YAML::Node's copy constructor aliases the node).
Params make_params(const YAML::Node& map, std::string origin, std::string file,
                   std::shared_ptr<const OverrideOrigins> overrides = nullptr);
// A node's params: origin "<file>: nodes.<node>.params".
Params node_params(const YAML::Node& map, const std::string& file, const std::string& node,
                   std::shared_ptr<const OverrideOrigins> overrides = nullptr);
// The same params, named after another file (the loaded file's absolute path).
Params with_file(const Params& params, const std::string& file, const std::string& node);
// The map (a null node for default-constructed Params).
const YAML::Node& yaml_of(const Params& params);

}  // namespace brook::detail
