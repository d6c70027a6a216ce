// A node's `params` from the topology, with typed access and errors that name the file and line.
//
// Params is a cheap handle on a read-only tree shared with the Topology it came from: copy it
// freely and read it from several threads. It includes no YAML header, so a node's code does not
// depend on the library that parses topology files.
#pragma once

#include <brook/error.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace brook {

namespace detail {
struct ParamTree;
struct ParamAccess;

template <class T>
inline constexpr bool kParamScalar =
    std::is_same_v<T, bool> || std::is_same_v<T, int> || std::is_same_v<T, long> ||
    std::is_same_v<T, long long> || std::is_same_v<T, unsigned> ||
    std::is_same_v<T, unsigned long> || std::is_same_v<T, unsigned long long> ||
    std::is_same_v<T, double> || std::is_same_v<T, std::string> ||
    std::is_same_v<T, std::chrono::milliseconds>;
template <class T>
inline constexpr bool kParamList = false;
template <class T>
inline constexpr bool kParamList<std::vector<T>> = kParamScalar<T>;
}  // namespace detail

// What Params::get reads: bool; int, long, long long and their unsigned forms (so every
// <cstdint> type from 32 bits up and std::size_t); double; std::string; std::chrono::milliseconds
// ("250ms", "2s", a bare number is milliseconds); and std::vector of any of those.
template <class T>
concept ParamValue = detail::kParamScalar<T> || detail::kParamList<T>;

class Params {
 public:
  Params() = default;  // no params: every get without a fallback throws "missing param"

  // Params from YAML text, e.g. to test a node's logic without a topology; `file` names the text
  // in errors. Throws ConfigError when the text is not YAML or not a map.
  static Params parse(std::string_view yaml, std::string file = "params");

  // Keys are dotted paths into nested maps: "tax.rate" reads params.tax.rate. An explicit null
  // (`rate:` or `rate: ~`) counts as absent.
  bool has(std::string_view key) const;
  // True when no key has a value.
  bool empty() const;
  // The keys of this map that have a value, in file order (a key containing '.' is listed but
  // cannot be read with a dotted path).
  std::vector<std::string> keys() const;

  // Throws ConfigError "<file>:<line>:<col>: param 'key': expected <type>, got <value>" on a bad
  // value (a negative number for an unsigned type included), or "<origin>: missing param 'key'"
  // when absent. A list names the bad element: "param 'sizes[2]'".
  template <ParamValue T>
  T get(std::string_view key) const;
  // `fallback` only when the key is absent: a bad value still throws.
  template <ParamValue T>
  T get(std::string_view key, T fallback) const;

  // A nested map as Params (empty Params if absent); its origin is "<origin>.key" (for parse():
  // "<file>: key").
  Params sub(std::string_view key) const;
  // A list of maps (empty if absent), e.g. `updates: [{sku: A}, {sku: B}]`; element i's origin
  // is "<origin>.key[i]" (for parse(): "<file>: key[i]"). Throws ConfigError naming file:line:col
  // when the value is not a list or an element is not a map.
  std::vector<Params> list(std::string_view key) const;

  // Where this map came from, e.g. "shop.yaml: nodes.pricing.params": for a node's own errors
  // about a value it read (out of range, unknown name).
  const std::string& origin() const noexcept;

 private:
  friend struct detail::ParamAccess;
  explicit Params(std::shared_ptr<const detail::ParamTree> tree) : tree_(std::move(tree)) {}

  std::shared_ptr<const detail::ParamTree> tree_;  // null: no params
};

// get<T> is compiled once, in the library, for each ParamValue.
#define BROOK_PARAMS_EXTERN(T)                                                                 \
  extern template T Params::get<T>(std::string_view) const;                                    \
  extern template T Params::get<T>(std::string_view, T) const;                                 \
  extern template std::vector<T> Params::get<std::vector<T>>(std::string_view) const;          \
  extern template std::vector<T> Params::get<std::vector<T>>(std::string_view, std::vector<T>) \
      const;
BROOK_PARAMS_EXTERN(bool)
BROOK_PARAMS_EXTERN(int)
BROOK_PARAMS_EXTERN(long)
BROOK_PARAMS_EXTERN(long long)
BROOK_PARAMS_EXTERN(unsigned)
BROOK_PARAMS_EXTERN(unsigned long)
BROOK_PARAMS_EXTERN(unsigned long long)
BROOK_PARAMS_EXTERN(double)
BROOK_PARAMS_EXTERN(std::string)
BROOK_PARAMS_EXTERN(std::chrono::milliseconds)
#undef BROOK_PARAMS_EXTERN

}  // namespace brook
