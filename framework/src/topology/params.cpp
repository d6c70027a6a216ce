// brook::Params over a shared, read-only YAML tree.
#include <algorithm>
#include <brook/params.hpp>
#include <brook/topology.hpp>
#include <charconv>
#include <limits>
#include <optional>

#include "topology/params_yaml.hpp"
#include "topology/yaml_shape.hpp"

namespace brook {

namespace detail {

Params make_params(const YAML::Node& map, std::string origin, std::string file,
                   std::shared_ptr<const OverrideOrigins> overrides) {
  return ParamAccess::make(std::make_shared<const ParamTree>(
      ParamTree{map, std::move(origin), std::move(file), std::move(overrides)}));
}

Params node_params(const YAML::Node& map, const std::string& file, const std::string& node,
                   std::shared_ptr<const OverrideOrigins> overrides) {
  return make_params(map, file + ": nodes." + node + ".params", file, std::move(overrides));
}

Params with_file(const Params& params, const std::string& file, const std::string& node) {
  const ParamTree* t = ParamAccess::tree(params);
  return node_params(yaml_of(params), file, node, t == nullptr ? nullptr : t->overrides);
}

const YAML::Node& yaml_of(const Params& params) {
  static const YAML::Node kNone;
  const ParamTree* t = ParamAccess::tree(params);
  return t == nullptr ? kNone : t->map;
}

}  // namespace detail

namespace {

using detail::ParamTree;
using std::chrono::milliseconds;

std::string describe_value(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      return "'" + n.Scalar() + "'";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "nothing";
  }
}

// Values set by --set have no position in the file: the argument that set them is their place.
std::string place_of(const ParamTree& t, const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.line >= 0) {
    return t.file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
  }
  if (t.overrides) {
    for (const auto& [node, origin] : *t.overrides) {
      if (node.is(n)) return origin;
    }
  }
  return t.origin;
}

[[noreturn]] void bad_value(const ParamTree& t, std::string_view key, const YAML::Node& n,
                            std::string_view expected) {
  const std::string where = place_of(t, n);
  throw ConfigError(where + ": param '" + std::string(key) + "': expected " +
                    std::string(expected) + ", got " + describe_value(n));
}

[[noreturn]] void missing(const ParamTree* t, std::string_view key) {
  const std::string what = "missing param '" + std::string(key) + "'";
  throw ConfigError(t == nullptr || t->origin.empty() ? what : t->origin + ": " + what);
}

// An explicit null (`rate:` or `rate: ~`) counts as absent, so that get(key, fallback) falls back.
std::optional<YAML::Node> find(const ParamTree* t, std::string_view key) {
  if (t == nullptr || key.empty()) return std::nullopt;
  YAML::Node cur = t->map;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = key.find('.', start);
    const std::string_view part = key.substr(start, dot - start);
    // Only const access (no operator[], no size() on maps): Params is read from several threads
    // and yaml-cpp updates caches inside the tree on non-const access.
    const YAML::Node& view = cur;
    if (!view.IsMap()) return std::nullopt;
    bool found = false;
    for (auto it = view.begin(); it != view.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == part) {
        cur.reset(it->second);
        found = true;
        break;
      }
    }
    if (!found) return std::nullopt;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (!cur.IsDefined() || cur.IsNull()) return std::nullopt;
  return cur;
}

// "shop.yaml: nodes.pricing.params" + "tax" is "shop.yaml: nodes.pricing.params.tax"; Params
// parsed from a text of their own start a path at the file: "params.yaml: tax".
std::string child_origin(const ParamTree* t, std::string_view name) {
  if (t == nullptr || t->origin.empty()) return std::string(name);
  if (t->origin == t->file) return t->file + ": " + std::string(name);
  return t->origin + "." + std::string(name);
}

std::string element_key(std::string_view key, std::size_t i) {
  return std::string(key) + "[" + std::to_string(i) + "]";
}

// "5000000000" for an int: a number, only too large, which "expected an integer" hides.
template <class T>
bool out_of_range(std::string_view s) {
  if (s.starts_with('+')) s.remove_prefix(1);
  if (s.empty()) return false;
  using Wide = std::conditional_t<std::is_signed_v<T>, long long, unsigned long long>;
  Wide v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (end != s.data() + s.size()) return false;
  if (ec == std::errc::result_out_of_range) return true;
  return ec == std::errc{} &&
         (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max());
}

template <class T>
std::string label(const YAML::Node& n) {
  if constexpr (std::is_same_v<T, bool>) {
    return "true or false";
  } else if constexpr (std::is_integral_v<T>) {
    if (n.IsScalar() && out_of_range<T>(n.Scalar())) {
      return "an integer from " + std::to_string(std::numeric_limits<T>::min()) + " to " +
             std::to_string(std::numeric_limits<T>::max());
    }
    return std::is_signed_v<T> ? "an integer" : "a non-negative integer";
  } else if constexpr (std::is_same_v<T, double>) {
    return "a number";
  } else if constexpr (std::is_same_v<T, std::string>) {
    return "a string";
  } else {
    static_assert(std::is_same_v<T, milliseconds>);
    return "a duration like 250ms or 2s";
  }
}

template <class T>
std::string_view list_label() {
  if constexpr (std::is_same_v<T, bool>) {
    return "a list of true/false values";
  } else if constexpr (std::is_integral_v<T>) {
    return std::is_signed_v<T> ? "a list of integers" : "a list of non-negative integers";
  } else if constexpr (std::is_same_v<T, double>) {
    return "a list of numbers";
  } else if constexpr (std::is_same_v<T, std::string>) {
    return "a list of strings";
  } else {
    return "a list of durations like 250ms or 2s";
  }
}

template <class T>
std::optional<T> decode(const YAML::Node& n) {
  if (!n.IsScalar()) return std::nullopt;
  if constexpr (std::is_same_v<T, std::string>) {
    return n.Scalar();
  } else if constexpr (std::is_same_v<T, milliseconds>) {
    return parse_duration(n.Scalar());
  } else {
    // Stream extraction, which yaml-cpp uses, wraps "-1" to a huge unsigned value; yaml-cpp
    // guards against a leading '-' itself, but a wrapped value must never reach a node.
    if constexpr (std::is_unsigned_v<T> && !std::is_same_v<T, bool>) {
      if (n.Scalar().find('-') != std::string::npos) return std::nullopt;
    }
    T v{};
    if (!YAML::convert<T>::decode(n, v)) return std::nullopt;
    return v;
  }
}

template <class T>
T read_scalar(const ParamTree& t, std::string_view key, const YAML::Node& n) {
  if (auto v = decode<T>(n)) return *v;
  bad_value(t, key, n, label<T>(n));
}

template <class T>
T read(const ParamTree& t, std::string_view key, const YAML::Node& n) {
  if constexpr (detail::kParamList<T>) {
    using E = typename T::value_type;
    if (!n.IsSequence()) bad_value(t, key, n, list_label<E>());
    T out;
    std::size_t i = 0;
    for (auto it = n.begin(); it != n.end(); ++it, ++i) {
      out.push_back(read_scalar<E>(t, element_key(key, i), *it));
    }
    return out;
  } else {
    return read_scalar<T>(t, key, n);
  }
}

YAML::Node load(std::string_view yaml, const std::string& file) {
  try {
    return YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    const std::string where = e.mark.line < 0 ? file
                                              : file + ":" + std::to_string(e.mark.line + 1) + ":" +
                                                    std::to_string(e.mark.column + 1);
    throw ConfigError(where + ": invalid YAML: " + e.msg);
  }
}

}  // namespace

Params Params::parse(std::string_view yaml, std::string file) {
  const YAML::Node root = load(yaml, file);
  // Aliases make shared nodes: a cycle or a "billion laughs" would make every walk endless.
  if (auto problem = detail::check_yaml_shape(root)) {
    throw ConfigError(file + ": " + problem->message + " (" + problem->hint + ")");
  }
  if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
    throw ConfigError(file + ": params: expected a map, got " + describe_value(root));
  }
  return detail::make_params(root, file, file);
}

bool Params::has(std::string_view key) const {
  return find(tree_.get(), key).has_value();
}

bool Params::empty() const {
  return keys().empty();
}

std::vector<std::string> Params::keys() const {
  std::vector<std::string> out;
  if (!tree_ || !tree_->map.IsMap()) return out;
  // The same rules as has() and get(): of a repeated key (the topology does not check inside
  // params) the first one counts, and a key written without a value is absent.
  std::vector<std::string_view> seen;
  const YAML::Node& map = tree_->map;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) continue;
    const std::string& key = it->first.Scalar();
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
    seen.push_back(key);
    if (it->second.IsDefined() && !it->second.IsNull()) out.push_back(key);
  }
  return out;
}

template <ParamValue T>
T Params::get(std::string_view key) const {
  const auto n = find(tree_.get(), key);
  if (!n) missing(tree_.get(), key);
  return read<T>(*tree_, key, *n);
}

template <ParamValue T>
T Params::get(std::string_view key, T fallback) const {
  const auto n = find(tree_.get(), key);
  if (!n) return fallback;
  return read<T>(*tree_, key, *n);
}

Params Params::sub(std::string_view key) const {
  std::string origin = child_origin(tree_.get(), key);
  std::string file = tree_ ? tree_->file : std::string();
  const auto n = find(tree_.get(), key);
  auto overrides = tree_ ? tree_->overrides : nullptr;
  if (!n) {
    return detail::make_params(YAML::Node(), std::move(origin), std::move(file),
                               std::move(overrides));
  }
  if (!n->IsMap()) bad_value(*tree_, key, *n, "a map");
  return detail::make_params(*n, std::move(origin), std::move(file), std::move(overrides));
}

std::vector<Params> Params::list(std::string_view key) const {
  std::vector<Params> out;
  const auto n = find(tree_.get(), key);
  if (!n) return out;
  if (!n->IsSequence()) bad_value(*tree_, key, *n, "a list of maps");
  std::size_t i = 0;
  for (auto it = n->begin(); it != n->end(); ++it, ++i) {
    const YAML::Node& item = *it;
    const std::string name = element_key(key, i);
    if (!item.IsMap()) bad_value(*tree_, name, item, "a map");
    out.push_back(
        detail::make_params(item, child_origin(tree_.get(), name), tree_->file, tree_->overrides));
  }
  return out;
}

const std::string& Params::origin() const noexcept {
  static const std::string kNone;
  return tree_ ? tree_->origin : kNone;
}

#define BROOK_PARAMS_INSTANTIATE(T)                                            \
  template T Params::get<T>(std::string_view) const;                           \
  template T Params::get<T>(std::string_view, T) const;                        \
  template std::vector<T> Params::get<std::vector<T>>(std::string_view) const; \
  template std::vector<T> Params::get<std::vector<T>>(std::string_view, std::vector<T>) const;
BROOK_PARAMS_INSTANTIATE(bool)
BROOK_PARAMS_INSTANTIATE(int)
BROOK_PARAMS_INSTANTIATE(long)
BROOK_PARAMS_INSTANTIATE(long long)
BROOK_PARAMS_INSTANTIATE(unsigned)
BROOK_PARAMS_INSTANTIATE(unsigned long)
BROOK_PARAMS_INSTANTIATE(unsigned long long)
BROOK_PARAMS_INSTANTIATE(double)
BROOK_PARAMS_INSTANTIATE(std::string)
BROOK_PARAMS_INSTANTIATE(std::chrono::milliseconds)
#undef BROOK_PARAMS_INSTANTIATE

}  // namespace brook
