// Map and value readers shared by the topology decoder.
#include "topology/schema.hpp"

#include <algorithm>
#include <brook/topology.hpp>
#include <charconv>

namespace brook::detail {

namespace {

constexpr std::size_t kMaxQuoted = 60;

// Errors about a value that failed to parse; keys are always scalars, values may be anything.
void bad_value(DiagnosticSink& sink, const Entry& e, std::string_view label,
               std::string_view expected, std::string hint = {}) {
  sink.error(
      where_value(sink, e),
      std::string(label) + ": expected " + std::string(expected) + ", got " + describe(e.value),
      std::move(hint));
}

}  // namespace

SourceLocation where_value(const DiagnosticSink& sink, const Entry& e) {
  if (auto o = sink.origin_of(e.value)) return *o;
  if (e.value.IsNull()) return sink.where(e.key);
  return sink.where(e.value);
}

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (s.size() > kMaxQuoted) return "'" + s.substr(0, kMaxQuoted) + "...'";
      return "'" + s + "'";
    }
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "nothing";
  }
}

bool valid_name(std::string_view s) noexcept {
  if (s.empty() || s.size() > 64) return false;
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
  if (!alpha(s[0])) return false;
  return std::all_of(s.begin() + 1, s.end(), [&](char c) {
    return alpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string> closest(std::string_view word,
                                   const std::vector<std::string>& candidates) {
  constexpr std::size_t kMaxDistance = 2;
  std::optional<std::string> best;
  std::size_t best_distance = kMaxDistance + 1;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string s;
  for (const auto& item : items) {
    if (!s.empty()) s += separator;
    s += item;
  }
  return s;
}

std::string suggest(std::string_view word, const std::vector<std::string>& candidates,
                    std::string_view what, std::string_view if_none) {
  if (auto c = closest(word, candidates)) return "did you mean '" + *c + "'?";
  if (candidates.empty()) return std::string(if_none);
  return std::string(what) + ": " + join(candidates);
}

const Entry* Fields::find(std::string_view key) const noexcept {
  for (const auto& [k, e] : entries_) {
    if (k == key) return &e;
  }
  return nullptr;
}

Fields read_fields(DiagnosticSink& sink, const YAML::Node& map,
                   const std::vector<std::string>& allowed, const std::string& context) {
  Fields fields;
  for (auto it = map.begin(); it != map.end(); ++it) {
    Entry e{it->first, it->second};
    if (!e.key.IsScalar()) {
      sink.error(sink.where(e.key), "expected a plain key " + context + ", got " + describe(e.key));
      continue;
    }
    const std::string& key = e.key.Scalar();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      sink.error(sink.where(e.key), "unknown key '" + key + "' " + context,
                 suggest(key, allowed, "allowed keys", ""));
      continue;
    }
    if (const Entry* first = fields.find(key)) {
      sink.error(sink.where(e.key), "duplicate key '" + key + "' " + context,
                 "first set at " + sink.where(first->key).str());
      continue;
    }
    fields.add(key, e);
  }
  return fields;
}

std::vector<std::pair<std::string, Entry>> read_named(DiagnosticSink& sink, const YAML::Node& map,
                                                      std::string_view kind) {
  std::vector<std::pair<std::string, Entry>> named;
  for (auto it = map.begin(); it != map.end(); ++it) {
    Entry e{it->first, it->second};
    if (!e.key.IsScalar()) {
      sink.error(sink.where(e.key),
                 "expected a " + std::string(kind) + " name, got " + describe(e.key),
                 std::string(kNameRule));
      continue;
    }
    const std::string& name = e.key.Scalar();
    auto first =
        std::find_if(named.begin(), named.end(), [&](const auto& n) { return n.first == name; });
    if (first != named.end()) {
      sink.error(sink.where(e.key), "duplicate " + std::string(kind) + " '" + name + "'",
                 "first declared at " + sink.where(first->second.key).str());
      continue;
    }
    if (!valid_name(name)) {
      sink.error(sink.where(e.key), "invalid " + std::string(kind) + " name '" + name + "'",
                 std::string(kNameRule));
    }
    named.emplace_back(name, e);
  }
  return named;
}

std::optional<std::string> read_string(DiagnosticSink& sink, const Entry& e,
                                       std::string_view label) {
  if (e.value.IsScalar()) return e.value.Scalar();
  bad_value(sink, e, label, "a string");
  return std::nullopt;
}

std::optional<long long> read_int(DiagnosticSink& sink, const Entry& e, std::string_view label,
                                  long long min, long long max) {
  const std::string expected = "an integer >= " + std::to_string(min);
  if (!e.value.IsScalar()) {
    bad_value(sink, e, label, expected);
    return std::nullopt;
  }
  const std::string& s = e.value.Scalar();
  long long v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || ptr != s.data() + s.size()) {
    bad_value(sink, e, label, expected);
    return std::nullopt;
  }
  if (v < min) {
    sink.error(where_value(sink, e), std::string(label) + " must be >= " + std::to_string(min));
    return std::nullopt;
  }
  if (v > max) {
    sink.error(where_value(sink, e), std::string(label) + " must be <= " + std::to_string(max));
    return std::nullopt;
  }
  return v;
}

std::optional<bool> read_bool(DiagnosticSink& sink, const Entry& e, std::string_view label) {
  if (e.value.IsScalar()) {
    if (e.value.Scalar() == "true") return true;
    if (e.value.Scalar() == "false") return false;
  }
  bad_value(sink, e, label, "true or false");
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> read_duration(DiagnosticSink& sink, const Entry& e,
                                                       std::string_view label) {
  if (e.value.IsScalar()) {
    if (auto d = parse_duration(e.value.Scalar())) return *d;
  }
  bad_value(sink, e, label, "a duration",
            "write e.g. 250ms, 3s, 1m or 1h; a bare number is milliseconds");
  return std::nullopt;
}

std::optional<std::size_t> read_size(DiagnosticSink& sink, const Entry& e, std::string_view label) {
  if (e.value.IsScalar()) {
    if (auto s = parse_size(e.value.Scalar())) return *s;
  }
  bad_value(sink, e, label, "a size",
            "write e.g. 65536, 64KiB or 1MiB (KiB/MiB/GiB are 1024-based, KB/MB/GB 1000-based)");
  return std::nullopt;
}

void report_enum(DiagnosticSink& sink, const Entry& e, std::string_view label,
                 const std::vector<std::string>& allowed) {
  const std::string hint = "allowed values: " + join(allowed);
  if (e.value.IsScalar()) {
    sink.error(where_value(sink, e),
               std::string(label) + ": unknown value '" + e.value.Scalar() + "'", hint);
  } else {
    bad_value(sink, e, label, "one of " + join(allowed), hint);
  }
}

std::optional<std::vector<std::string>> read_string_list(DiagnosticSink& sink, const Entry& e,
                                                         std::string_view label) {
  if (e.value.IsNull()) return std::vector<std::string>{};
  if (!e.value.IsSequence()) {
    bad_value(sink, e, label, "a list of strings");
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (const auto& item : e.value) {
    auto s = read_string(sink, Entry{item, item}, label);
    if (s) out.push_back(*s);
    ok = ok && s.has_value();
  }
  if (!ok) return std::nullopt;
  return out;
}

bool expect_map(DiagnosticSink& sink, const Entry& e, std::string_view label, bool null_ok) {
  if (e.value.IsMap()) return true;
  if (null_ok && e.value.IsNull()) return false;
  bad_value(sink, e, label, "a map");
  return false;
}

}  // namespace brook::detail
