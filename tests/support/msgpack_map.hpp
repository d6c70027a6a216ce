// A msgpack map of string keys to integers or strings, packed: hand-made frames for decoder
// tests (msgpack::type::variant would need Boost, which brook's interface leaves out).
#pragma once

#include <cstdint>
#include <map>
#include <msgpack.hpp>
#include <string>
#include <variant>

namespace brook::test {

using MapField = std::variant<std::int64_t, std::string>;

inline std::string pack_map(const std::map<std::string, MapField>& m) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_map(static_cast<std::uint32_t>(m.size()));
  for (const auto& [k, v] : m) {
    p.pack(k);
    std::visit([&](const auto& x) { p.pack(x); }, v);
  }
  return {b.data(), b.size()};
}

}  // namespace brook::test
