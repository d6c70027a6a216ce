// Big-endian numbers of W (1, 2, 4 or 8) bytes, msgpack's byte order: one load or store and a
// byte swap each, on any host. Shared by the msgpack readers (envelope and payload) and the
// envelope's writer.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace brook::detail {

template <std::size_t W>
[[gnu::always_inline]] inline std::uint64_t load_be(const void* p) noexcept {
  static_assert(W == 1 || W == 2 || W == 4 || W == 8);
  if constexpr (W == 1) {
    return *static_cast<const std::uint8_t*>(p);
  } else if constexpr (W == 2) {
    std::uint16_t v;
    std::memcpy(&v, p, 2);
    return std::endian::native == std::endian::little ? __builtin_bswap16(v) : v;
  } else if constexpr (W == 4) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return std::endian::native == std::endian::little ? __builtin_bswap32(v) : v;
  } else {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return std::endian::native == std::endian::little ? __builtin_bswap64(v) : v;
  }
}

// The low W bytes of v at p, most significant first.
template <std::size_t W>
[[gnu::always_inline]] inline void store_be(void* p, std::uint64_t v) noexcept {
  static_assert(W == 1 || W == 2 || W == 4 || W == 8);
  if constexpr (W == 1) {
    *static_cast<std::uint8_t*>(p) = static_cast<std::uint8_t>(v);
  } else if constexpr (W == 2) {
    const auto x = static_cast<std::uint16_t>(v);
    const std::uint16_t out = std::endian::native == std::endian::little ? __builtin_bswap16(x) : x;
    std::memcpy(p, &out, 2);
  } else if constexpr (W == 4) {
    const auto x = static_cast<std::uint32_t>(v);
    const std::uint32_t out = std::endian::native == std::endian::little ? __builtin_bswap32(x) : x;
    std::memcpy(p, &out, 4);
  } else {
    const std::uint64_t out = std::endian::native == std::endian::little ? __builtin_bswap64(v) : v;
    std::memcpy(p, &out, 8);
  }
}

}  // namespace brook::detail
