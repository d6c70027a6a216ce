// Non-template parts of brook::Params.
#include <brook/params.hpp>

namespace brook {

namespace {

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

}  // namespace

Params::Params(YAML::Node map, std::string origin, std::string file)
    : map_(std::move(map)), origin_(std::move(origin)), file_(std::move(file)) {}

// An explicit null (`rate:` or `rate: ~`) counts as absent, so that get(key, fallback) falls back.
YAML::Node Params::find(std::string_view key) const {
  YAML::Node absent(YAML::NodeType::Undefined);
  if (key.empty()) return absent;
  YAML::Node cur = map_;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = key.find('.', start);
    const std::string_view part = key.substr(start, dot - start);
    // Only const access: Params is read from several threads.
    const YAML::Node& view = cur;
    if (!view.IsMap()) return absent;
    bool found = false;
    for (auto it = view.begin(); it != view.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == part) {
        cur.reset(it->second);
        found = true;
        break;
      }
    }
    if (!found) return absent;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (cur.IsNull()) return absent;
  return cur;
}

bool Params::has(std::string_view key) const {
  return static_cast<bool>(find(key));
}

Params Params::sub(std::string_view key) const {
  const std::string origin = origin_ + "." + std::string(key);
  YAML::Node n = find(key);
  if (!n) return Params(YAML::Node(YAML::NodeType::Map), origin, file_);
  if (!n.IsMap()) bad_value(key, n, "a map");
  return Params(n, origin, file_);
}

void Params::bad_value(std::string_view key, const YAML::Node& n, std::string_view expected) const {
  const YAML::Mark m = n.Mark();
  // Values set by --set have no position in the file.
  std::string where =
      m.line < 0 ? origin_
                 : file_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
  throw ConfigError(where + ": param '" + std::string(key) + "': expected " +
                    std::string(expected) + ", got " + describe_value(n));
}

void Params::missing(std::string_view key) const {
  throw ConfigError(origin_ + ": missing param '" + std::string(key) + "'");
}

}  // namespace brook
