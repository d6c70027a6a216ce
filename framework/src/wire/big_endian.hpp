// Big-endian numbers of W (1, 2, 4 or 8) bytes, msgpack's byte order: one load or store and a
// byte swap each, on any host. Shared by the msgpack readers (envelope and payload) and the
// envelope's writer.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace brook::detail {

// The unsigned type of W bytes.
template <std::size_t W>
using UintOf = std::conditional_t<
    W == 1, std::uint8_t,
    std::conditional_t<W == 2, std::uint16_t,
                       std::conditional_t<W == 4, std::uint32_t, std::uint64_t>>>;

// v with its bytes reversed on a little-endian host (the swap is its own inverse).
template <class U>
[[gnu::always_inline]] inline U swap_to_big(U v) noexcept {
  if constexpr (sizeof(U) == 1 || std::endian::native == std::endian::big) {
    return v;
  } else if constexpr (sizeof(U) == 2) {
    return __builtin_bswap16(v);
  } else if constexpr (sizeof(U) == 4) {
    return __builtin_bswap32(v);
  } else {
    return __builtin_bswap64(v);
  }
}

template <std::size_t W>
[[gnu::always_inline]] inline std::uint64_t load_be(const void* p) noexcept {
  static_assert(W == 1 || W == 2 || W == 4 || W == 8);
  UintOf<W> v;
  std::memcpy(&v, p, W);
  return swap_to_big(v);
}

// The low W bytes of v at p, most significant first.
template <std::size_t W>
[[gnu::always_inline]] inline void store_be(void* p, std::uint64_t v) noexcept {
  static_assert(W == 1 || W == 2 || W == 4 || W == 8);
  const UintOf<W> out = swap_to_big(static_cast<UintOf<W>>(v));
  std::memcpy(p, &out, W);
}

}  // namespace brook::detail
