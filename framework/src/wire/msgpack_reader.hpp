// A bounds-checked cursor over msgpack bytes that reads one value header at a time without
// allocating. Used for the envelope, whose layout is fixed, so a tree decode is unnecessary.
#pragma once

#include <brook/envelope_codec.hpp>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

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
  std::uint64_t be(std::size_t at, std::size_t width) const noexcept;

  std::span<const std::byte> data_;
  std::size_t pos_ = 0;
};

}  // namespace brook::detail
