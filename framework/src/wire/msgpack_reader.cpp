#include "wire/msgpack_reader.hpp"

namespace brook::detail {

std::uint64_t MsgpackReader::be(std::size_t at, std::size_t width) const noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i) v = (v << 8) | static_cast<std::uint8_t>(data_[at + i]);
  return v;
}

bool MsgpackReader::peek_nil() const noexcept { return has(1) && peek() == 0xc0; }

DecodeErrc MsgpackReader::read_array_header(std::uint32_t& n) noexcept {
  if (!has(1)) return DecodeErrc::kTruncated;
  const std::uint8_t b = peek();
  if ((b & 0xf0) == 0x90) {
    n = b & 0x0f;
    pos_ += 1;
    return DecodeErrc::kOk;
  }
  const std::size_t width = b == 0xdc ? 2 : b == 0xdd ? 4 : 0;
  if (width == 0) return DecodeErrc::kWrongType;
  if (!has(1 + width)) return DecodeErrc::kTruncated;
  n = static_cast<std::uint32_t>(be(pos_ + 1, width));
  pos_ += 1 + width;
  return DecodeErrc::kOk;
}

DecodeErrc MsgpackReader::read_map_header(std::uint32_t& n) noexcept {
  if (!has(1)) return DecodeErrc::kTruncated;
  const std::uint8_t b = peek();
  if ((b & 0xf0) == 0x80) {
    n = b & 0x0f;
    pos_ += 1;
    return DecodeErrc::kOk;
  }
  const std::size_t width = b == 0xde ? 2 : b == 0xdf ? 4 : 0;
  if (width == 0) return DecodeErrc::kWrongType;
  if (!has(1 + width)) return DecodeErrc::kTruncated;
  n = static_cast<std::uint32_t>(be(pos_ + 1, width));
  pos_ += 1 + width;
  return DecodeErrc::kOk;
}

DecodeErrc MsgpackReader::read_int(std::int64_t& v) noexcept {
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
  std::size_t width = 0;
  bool is_signed = false;
  switch (b) {
    case 0xcc: width = 1; break;
    case 0xcd: width = 2; break;
    case 0xce: width = 4; break;
    case 0xcf: width = 8; break;
    case 0xd0: width = 1; is_signed = true; break;
    case 0xd1: width = 2; is_signed = true; break;
    case 0xd2: width = 4; is_signed = true; break;
    case 0xd3: width = 8; is_signed = true; break;
    default: return DecodeErrc::kWrongType;
  }
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

DecodeErrc MsgpackReader::read_uint(std::uint64_t& v) noexcept {
  if (!has(1)) return DecodeErrc::kTruncated;
  const std::uint8_t b = peek();
  if (b <= 0x7f) {
    v = b;
    pos_ += 1;
    return DecodeErrc::kOk;
  }
  std::size_t width = 0;
  switch (b) {
    case 0xcc: width = 1; break;
    case 0xcd: width = 2; break;
    case 0xce: width = 4; break;
    case 0xcf: width = 8; break;
    default: {
      // Other encoders may write a non-negative value in a signed format.
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
  }
  if (!has(1 + width)) return DecodeErrc::kTruncated;
  v = be(pos_ + 1, width);
  pos_ += 1 + width;
  return DecodeErrc::kOk;
}

DecodeErrc MsgpackReader::read_str(std::string_view& v) noexcept {
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

DecodeErrc MsgpackReader::read_bin(std::span<const std::byte>& v) noexcept {
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
