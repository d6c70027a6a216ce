// Override paths: `nodes.basket.replicas`, `channels.orders.hwm`, `directory.ttl`, and the
// shorthand `basket.replicas` for `nodes.basket.replicas`.
#include "topology/overrides.hpp"

#include <optional>

#include "topology/schema.hpp"
#include "topology/yaml_shape.hpp"

namespace brook::detail {

namespace {

// yaml-cpp's Node::operator= copies into the referenced node; these helpers only ever look
// entries up, so that walking the tree never rewrites it by accident.
std::optional<Entry> find_entry(const YAML::Node& map, const std::string& key) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) return Entry{it->first, it->second};
  }
  return std::nullopt;
}

std::vector<std::string> keys_of(const YAML::Node& map) {
  std::vector<std::string> keys;
  if (!map.IsMap()) return keys;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar()) keys.push_back(it->first.Scalar());
  }
  return keys;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = path.find('.', start);
    parts.push_back(path.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

// A copy without marks: the value's marks are positions in the --set text, which would read as
// positions in the topology file.
YAML::Node unmarked(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      return YAML::Node(n.Scalar());
    case YAML::NodeType::Sequence: {
      YAML::Node seq(YAML::NodeType::Sequence);
      for (auto it = n.begin(); it != n.end(); ++it)
        seq.push_back(unmarked(*it));
      return seq;
    }
    case YAML::NodeType::Map: {
      YAML::Node map(YAML::NodeType::Map);
      for (auto it = n.begin(); it != n.end(); ++it) {
        map.force_insert(unmarked(it->first), unmarked(it->second));
      }
      return map;
    }
    default:
      return YAML::Node(YAML::NodeType::Null);
  }
}

void attribute_tree(DiagnosticSink& sink, const YAML::Node& n, const std::string& origin) {
  sink.attribute(n, origin);
  if (n.IsMap()) {
    for (auto it = n.begin(); it != n.end(); ++it) {
      attribute_tree(sink, it->first, origin);
      attribute_tree(sink, it->second, origin);
    }
  } else if (n.IsSequence()) {
    for (auto it = n.begin(); it != n.end(); ++it)
      attribute_tree(sink, *it, origin);
  }
}

class Override {
 public:
  Override(const std::string& text, DiagnosticSink& sink, bool skip_undeclared)
      : text_(text), origin_("--set " + text), sink_(sink), skip_undeclared_(skip_undeclared) {}

  void apply(YAML::Node root) {
    const std::size_t eq = text_.find('=');
    if (eq == std::string::npos) {
      return fail("override must have the form path=value", "e.g. --set basket.replicas=3");
    }
    const std::string path = text_.substr(0, eq);
    std::vector<std::string> keys = split_path(path);
    for (const auto& k : keys) {
      if (k.empty()) {
        return fail("override path '" + path + "' has an empty key",
                    "write dotted keys, e.g. nodes.basket.replicas");
      }
    }
    if (keys[0] != "topology" && keys[0] != "directory" && keys[0] != "channels" &&
        keys[0] != "nodes" && keys[0] != "security" && keys[0] != "state_dir" &&
        keys[0] != "hosts" && keys[0] != "log" && keys[0] != "tracing") {
      keys.insert(keys.begin(), "nodes");
    }
    if (keys[0] == "topology" && keys.size() > 1) {
      return fail("cannot set '" + path + "': 'topology' is a name, not a map",
                  "write --set topology=<name>");
    }
    if ((keys[0] == "nodes" || keys[0] == "channels") && !check_declared(root, keys)) return;
    auto value = parse_value(text_.substr(eq + 1));
    if (!value) return;
    set(root, keys, *value);
  }

 private:
  void fail(std::string message, std::string hint) {
    sink_.error(SourceLocation{origin_, 0, 0}, std::move(message), std::move(hint));
  }

  // Overrides adjust what the file declares; adding a node or channel from the command line
  // would hide the topology's shape from anyone reading the file.
  bool check_declared(const YAML::Node& root, const std::vector<std::string>& keys) {
    const bool nodes = keys[0] == "nodes";
    const std::string kind = nodes ? "node" : "channel";
    if (keys.size() < 2) {
      fail("override path '" + keys[0] + "' must name a " + kind,
           nodes ? "e.g. --set basket.replicas=3" : "e.g. --set channels.orders.hwm=100");
      return false;
    }
    auto section = find_entry(root, keys[0]);
    const std::vector<std::string> known =
        section ? keys_of(section->value) : keys_of(YAML::Node());
    if (section && section->value.IsMap() && find_entry(section->value, keys[1])) return true;
    if (skip_undeclared_) return false;
    std::string hint = known.empty() ? "the topology declares no " + kind + "s"
                                     : "known " + kind + "s: " + join(known);
    if (auto close = closest(keys[1], known)) hint = "did you mean '" + *close + "'? " + hint;
    fail("unknown " + kind + " '" + keys[1] + "' in override", hint);
    return false;
  }

  std::optional<YAML::Node> parse_value(const std::string& text) {
    if (text.empty()) return YAML::Node(std::string());
    try {
      const YAML::Node value = YAML::Load(text);
      if (auto problem = check_yaml_shape(value)) {
        fail("invalid YAML value '" + text + "': " + problem->message, problem->hint);
        return std::nullopt;
      }
      return unmarked(value);
    } catch (const YAML::Exception& e) {
      fail("invalid YAML value '" + text + "': " + e.msg,
           "quote the value if it is meant as a string, e.g. --set 'basket.args=[\"-v\"]'");
      return std::nullopt;
    }
  }

  void set(YAML::Node root, const std::vector<std::string>& keys, const YAML::Node& value) {
    YAML::Node map = root;
    for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
      auto entry = find_entry(map, keys[i]);
      if (entry && entry->value.IsMap()) {
        map.reset(entry->value);
        continue;
      }
      if (entry && !entry->value.IsNull()) {
        const std::vector<std::string> prefix(keys.begin(), keys.begin() + i + 1);
        fail("cannot set '" + join(keys, ".") + "': '" + join(prefix, ".") + "' is " +
                 describe(entry->value) + ", not a map",
             "");
        return;
      }
      YAML::Node created(YAML::NodeType::Map);
      map[keys[i]] = created;
      attribute_entry(map, keys[i], !entry);
      map.reset(created);
    }
    const bool existed = find_entry(map, keys.back()).has_value();
    map[keys.back()] = value;
    attribute_entry(map, keys.back(), !existed);
  }

  // A key the file already had keeps its file position; everything new belongs to the override.
  void attribute_entry(const YAML::Node& map, const std::string& key, bool new_key) {
    auto entry = find_entry(map, key);
    if (!entry) return;
    if (new_key) sink_.attribute(entry->key, origin_);
    attribute_tree(sink_, entry->value, origin_);
  }

  const std::string& text_;
  std::string origin_;
  DiagnosticSink& sink_;
  bool skip_undeclared_;
};

}  // namespace

void apply_overrides(YAML::Node root, const std::vector<std::string>& overrides,
                     DiagnosticSink& sink, bool skip_undeclared) {
  for (const auto& text : overrides) {
    sink.add_origin("--set " + text);
    Override(text, sink, skip_undeclared).apply(root);
  }
}

}  // namespace brook::detail
