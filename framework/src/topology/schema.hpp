// Reading the maps and values a topology file is made of, reporting every problem to a
// DiagnosticSink instead of stopping. Readers return nullopt after reporting a bad value, so the
// caller keeps its default and carries on.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "topology/diagnostics.hpp"

namespace brook::detail {

inline constexpr std::string_view kNameRule =
    "names match [A-Za-z][A-Za-z0-9_-]{0,63}: a letter, then letters, digits, '_' or '-'";

inline constexpr long long kIntMax = 2147483647;

// A map entry, or a list item (then key and value are the same node).
struct Entry {
  YAML::Node key;
  YAML::Node value;
};

// Where to report a problem with an entry's value. An empty value's mark points at the next
// token in the file, so it is reported at its key.
SourceLocation where_value(const DiagnosticSink& sink, const Entry& e);
// "'text'", "a list", "a map" or "nothing", for "got ..." in messages.
std::string describe(const YAML::Node& n);

bool valid_name(std::string_view s) noexcept;
std::size_t edit_distance(std::string_view a, std::string_view b);
// The candidate within edit distance 2 of `word` (the nearest, first on ties), if any.
std::optional<std::string> closest(std::string_view word,
                                   const std::vector<std::string>& candidates);
std::string join(const std::vector<std::string>& items, std::string_view separator = ", ");
// "did you mean 'x'?" when something is close, else "<what>: a, b, c" (or `if_none`).
std::string suggest(std::string_view word, const std::vector<std::string>& candidates,
                    std::string_view what, std::string_view if_none);

// The entries of a map whose keys we define, first occurrence of each key.
class Fields {
 public:
  const Entry* find(std::string_view key) const noexcept;
  void add(std::string key, Entry e) { entries_.emplace_back(std::move(key), std::move(e)); }

 private:
  std::vector<std::pair<std::string, Entry>> entries_;
};

// Reports unknown keys (with a suggestion) and repeated keys; `context` completes
// "unknown key 'x' ..." e.g. "in node 'basket'".
Fields read_fields(DiagnosticSink& sink, const YAML::Node& map,
                   const std::vector<std::string>& allowed, const std::string& context);

// The entries of a map keyed by user-chosen names (channels, nodes), first occurrence of each
// name; reports repeated and invalid names. `kind` is "channel" or "node".
std::vector<std::pair<std::string, Entry>> read_named(DiagnosticSink& sink, const YAML::Node& map,
                                                      std::string_view kind);

// Typed values. `label` names the value in messages ("replicas", "restart.window").
std::optional<std::string> read_string(DiagnosticSink& sink, const Entry& e,
                                       std::string_view label);
std::optional<long long> read_int(DiagnosticSink& sink, const Entry& e, std::string_view label,
                                  long long min, long long max = kIntMax);
std::optional<bool> read_bool(DiagnosticSink& sink, const Entry& e, std::string_view label);
std::optional<std::chrono::milliseconds> read_duration(DiagnosticSink& sink, const Entry& e,
                                                       std::string_view label);
std::optional<std::size_t> read_size(DiagnosticSink& sink, const Entry& e, std::string_view label);
// `allowed` lists the spellings, for the hint.
template <class E, class Parse>
std::optional<E> read_enum(DiagnosticSink& sink, const Entry& e, std::string_view label,
                           Parse parse, const std::vector<std::string>& allowed);
std::optional<std::vector<std::string>> read_string_list(DiagnosticSink& sink, const Entry& e,
                                                         std::string_view label);
// True for a map; null counts as an empty map when `null_ok`. Reports anything else.
bool expect_map(DiagnosticSink& sink, const Entry& e, std::string_view label, bool null_ok);

void report_enum(DiagnosticSink& sink, const Entry& e, std::string_view label,
                 const std::vector<std::string>& allowed);

template <class E, class Parse>
std::optional<E> read_enum(DiagnosticSink& sink, const Entry& e, std::string_view label,
                           Parse parse, const std::vector<std::string>& allowed) {
  if (e.value.IsScalar()) {
    if (auto v = parse(e.value.Scalar())) return *v;
  }
  report_enum(sink, e, label, allowed);
  return std::nullopt;
}

}  // namespace brook::detail
