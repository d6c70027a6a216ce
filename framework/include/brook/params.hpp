// A node's `params` from the topology, with typed access and errors that name the file and line.
//
// Params is a cheap handle on the YAML tree owned by the Topology; it is read-only and safe to
// read from several threads.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <string>
#include <string_view>

#include <brook/error.hpp>
#include <brook/topology.hpp>

namespace brook {

class Params {
 public:
  Params() = default;
  // `origin` names where the map came from, e.g. "shop.yaml: nodes.pricing.params".
  Params(YAML::Node map, std::string origin, std::string file);

  // Keys are dotted paths into nested maps: "tax.rate" reads params.tax.rate.
  bool has(std::string_view key) const;

  // Throws ConfigError "<file>:<line>:<col>: param 'key': expected <type>" on a bad value, or
  // "<origin>: missing param 'key'" when absent. Supported T: bool, integers, double,
  // std::string, std::chrono::milliseconds ("250ms", "2s"), std::vector of those, and any type
  // yaml-cpp can convert.
  template <class T>
  T get(std::string_view key) const;
  template <class T>
  T get(std::string_view key, T fallback) const;

  // A nested map as Params (empty Params if absent).
  Params sub(std::string_view key) const;
  const YAML::Node& yaml() const noexcept { return map_; }

 private:
  YAML::Node find(std::string_view key) const;  // null node if absent
  [[noreturn]] void bad_value(std::string_view key, const YAML::Node& n,
                              std::string_view expected) const;
  [[noreturn]] void missing(std::string_view key) const;

  YAML::Node map_;
  std::string origin_;
  std::string file_;
};

namespace detail {
template <class T>
struct TypeLabel {
  static constexpr std::string_view value = "a value of the expected type";
};
template <>
struct TypeLabel<bool> {
  static constexpr std::string_view value = "true or false";
};
template <>
struct TypeLabel<std::string> {
  static constexpr std::string_view value = "a string";
};
template <>
struct TypeLabel<double> {
  static constexpr std::string_view value = "a number";
};
template <>
struct TypeLabel<int> {
  static constexpr std::string_view value = "an integer";
};
template <>
struct TypeLabel<long> {
  static constexpr std::string_view value = "an integer";
};
template <>
struct TypeLabel<long long> {
  static constexpr std::string_view value = "an integer";
};
template <>
struct TypeLabel<unsigned> {
  static constexpr std::string_view value = "a non-negative integer";
};
template <>
struct TypeLabel<unsigned long> {
  static constexpr std::string_view value = "a non-negative integer";
};
}  // namespace detail

template <class T>
T Params::get(std::string_view key) const {
  YAML::Node n = find(key);
  if (!n) missing(key);
  if constexpr (std::is_same_v<T, std::chrono::milliseconds>) {
    if (n.IsScalar()) {
      if (auto d = parse_duration(n.Scalar())) return *d;
    }
    bad_value(key, n, "a duration like 250ms or 2s");
  } else {
    try {
      return n.as<T>();
    } catch (const YAML::Exception&) {
      bad_value(key, n, detail::TypeLabel<T>::value);
    }
  }
}

template <class T>
T Params::get(std::string_view key, T fallback) const {
  if (!has(key)) return fallback;
  return get<T>(key);
}

}  // namespace brook
