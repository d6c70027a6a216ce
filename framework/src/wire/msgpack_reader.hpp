// A bounds-checked cursor over msgpack bytes that reads one value header at a time without
// allocating. Used for the envelope, whose layout is fixed, so a tree decode is unnecessary.
// The reads are defined here, always inlined: each envelope decode makes a dozen of them, and as
// calls they cost a third of the decode (one-hop sink profile, docs/bench.md; the compiler kept
// read_uint and read_bin out of line until told, ~150 instructions a decode).
#pragma once

#include <brook/envelope_codec.hpp>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "wire/big_endian.hpp"

namespace brook::detail {

class MsgpackReader {
 public:
  explicit MsgpackReader(std::span<const std::byte> bytes) noexcept : data_(bytes) {}

  std::size_t offset() const noexcept { return pos_; }
  bool at_end() const noexcept { return pos_ == data_.size(); }
  std::span<const std::byte> rest() const noexcept { return data_.subspan(pos_); }
  std::span<const std::byte> slice(std::size_t from, std::size_t to) const noexcept {
    return data_.subspan(from, to - from);
  }

  // Each read returns kOk or the problem (kTruncated, kWrongType, kOutOfRange) and leaves pos_
  // unchanged on failure.
  DecodeErrc read_array_header(std::uint32_t& n) noexcept;
  DecodeErrc read_map_header(std::uint32_t& n) noexcept;
  DecodeErrc read_uint(std::uint64_t& v) noexcept;  // positive fixint, uint8..64, non-negative int
  DecodeErrc read_int(std::int64_t& v) noexcept;    // any integer that fits int64
  DecodeErrc read_str(std::string_view& v) noexcept;
  DecodeErrc read_bin(std::span<const std::byte>& v) noexcept;
  bool peek_nil() const noexcept;
  void skip_nil() noexcept { ++pos_; }
  // Steps over one complete value of any type, containers included, without recursing.
  DecodeErrc skip_value() noexcept;

 private:
  std::uint8_t peek() const noexcept { return static_cast<std::uint8_t>(data_[pos_]); }
  bool has(std::size_t n) const noexcept { return data_.size() - pos_ >= n; }
  DecodeErrc read_header(std::uint32_t& n, std::uint8_t fix, std::uint8_t tag16) noexcept;
  // The big-endian number of `width` (1, 2, 4 or 8) bytes at `at`; the caller checked has().
  std::uint64_t be(std::size_t at, std::size_t width) const noexcept;

  std::span<const std::byte> data_;
  std::size_t pos_ = 0;
};

[[gnu::always_inline]] inline std::uint64_t MsgpackReader::be(std::size_t at,
                                                              std::size_t width) const noexcept {
  const std::byte* p = data_.data() + at;
  switch (width) {
    case 1:
      return load_be<1>(p);
    case 2:
      return load_be<2>(p);
    case 4:
      return load_be<4>(p);
    default:
      return load_be<8>(p);
  }
}

inline bool MsgpackReader::peek_nil() const noexcept {
  return has(1) && peek() == 0xc0;
}

// fixarray/fixmap is `fix` in the high nibble and the count in the low one; `tag16` and the
// byte after it are the 16- and 32-bit forms.
[[gnu::always_inline]] inline DecodeErrc MsgpackReader::read_header(std::uint32_t& n,
                                                                    std::uint8_t fix,
                                                                    std::uint8_t tag16) noexcept {
  if (!has(1)) return DecodeErrc::kTruncated;
  const std::uint8_t b = peek();
  if ((b & 0xf0) == fix) {
    n = b & 0x0f;
    pos_ += 1;
    return DecodeErrc::kOk;
  }
  const std::size_t width = b == tag16 ? 2 : b == tag16 + 1 ? 4 : 0;
  if (width == 0) return DecodeErrc::kWrongType;
  if (!has(1 + width)) return DecodeErrc::kTruncated;
  n = static_cast<std::uint32_t>(be(pos_ + 1, width));
  pos_ += 1 + width;
  return DecodeErrc::kOk;
}

inline DecodeErrc MsgpackReader::read_array_header(std::uint32_t& n) noexcept {
  return read_header(n, 0x90, 0xdc);
}

inline DecodeErrc MsgpackReader::read_map_header(std::uint32_t& n) noexcept {
  return read_header(n, 0x80, 0xde);
}

[[gnu::always_inline]] inline DecodeErrc MsgpackReader::read_int(std::int64_t& v) noexcept {
  if (!has(1)) return DecodeErrc::kTruncated;
  const std::uint8_t b = peek();
  if (b <= 0x7f) {
    v = b;
    pos_ += 1;
    return DecodeErrc::kOk;
  }
  if (b >= 0xe0) {
    v = static_cast<std::int8_t>(b);
    pos_ += 1;
    return DecodeErrc::kOk;
  }
  // uint 8/16/32/64 are 0xcc-0xcf, int 8/16/32/64 are 0xd0-0xd3: 1 << (low bits) bytes follow.
  const bool is_signed = b >= 0xd0 && b <= 0xd3;
  if (!is_signed && (b < 0xcc || b > 0xcf)) return DecodeErrc::kWrongType;
  const std::size_t width = std::size_t{1} << (b & 0x03);
  if (!has(1 + width)) return DecodeErrc::kTruncated;
  const std::uint64_t raw = be(pos_ + 1, width);
  if (is_signed) {
    // Sign-extend from `width` bytes.
    const unsigned shift = static_cast<unsigned>(64 - 8 * width);
    v = static_cast<std::int64_t>(raw << shift) >> shift;
  } else {
    if (raw > static_cast<std::uint64_t>(INT64_MAX)) return DecodeErrc::kOutOfRange;
    v = static_cast<std::int64_t>(raw);
  }
  pos_ += 1 + width;
  return DecodeErrc::kOk;
}

[[gnu::always_inline]] inline DecodeErrc MsgpackReader::read_uint(std::uint64_t& v) noexcept {
  if (!has(1)) return DecodeErrc::kTruncated;
  const std::uint8_t b = peek();
  if (b < 0xcc || b > 0xcf) {
    // A positive fixint, or a non-negative value in a signed format (other encoders write them).
    std::int64_t s = 0;
    const std::size_t saved = pos_;
    const DecodeErrc e = read_int(s);
    if (e != DecodeErrc::kOk) return e;
    if (s < 0) {
      pos_ = saved;
      return DecodeErrc::kOutOfRange;
    }
    v = static_cast<std::uint64_t>(s);
    return DecodeErrc::kOk;
  }
  const std::size_t width = std::size_t{1} << (b & 0x03);  // uint 8/16/32/64: 0xcc-0xcf
  if (!has(1 + width)) return DecodeErrc::kTruncated;
  v = be(pos_ + 1, width);
  pos_ += 1 + width;
  return DecodeErrc::kOk;
}

[[gnu::always_inline]] inline DecodeErrc MsgpackReader::read_str(std::string_view& v) noexcept {
  if (!has(1)) return DecodeErrc::kTruncated;
  const std::uint8_t b = peek();
  std::size_t width = 0;
  std::uint64_t len = 0;
  if ((b & 0xe0) == 0xa0) {
    len = b & 0x1f;
  } else if (b == 0xd9 || b == 0xda || b == 0xdb) {
    width = b == 0xd9 ? 1 : b == 0xda ? 2 : 4;
    if (!has(1 + width)) return DecodeErrc::kTruncated;
    len = be(pos_ + 1, width);
  } else {
    return DecodeErrc::kWrongType;
  }
  if (!has(1 + width + len)) return DecodeErrc::kTruncated;
  v = std::string_view(reinterpret_cast<const char*>(data_.data() + pos_ + 1 + width), len);
  pos_ += 1 + width + len;
  return DecodeErrc::kOk;
}

[[gnu::always_inline]] inline DecodeErrc MsgpackReader::read_bin(
    std::span<const std::byte>& v) noexcept {
  if (!has(1)) return DecodeErrc::kTruncated;
  const std::uint8_t b = peek();
  if (b != 0xc4 && b != 0xc5 && b != 0xc6) return DecodeErrc::kWrongType;
  const std::size_t width = b == 0xc4 ? 1 : b == 0xc5 ? 2 : 4;
  if (!has(1 + width)) return DecodeErrc::kTruncated;
  const std::uint64_t len = be(pos_ + 1, width);
  if (!has(1 + width + len)) return DecodeErrc::kTruncated;
  v = data_.subspan(pos_ + 1 + width, len);
  pos_ += 1 + width + len;
  return DecodeErrc::kOk;
}

}  // namespace brook::detail
