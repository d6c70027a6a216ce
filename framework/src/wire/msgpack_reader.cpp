#include "wire/msgpack_reader.hpp"

namespace brook::detail {

std::uint64_t MsgpackReader::be(std::size_t at, std::size_t width) const noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i)
    v = (v << 8) | static_cast<std::uint8_t>(data_[at + i]);
  return v;
}

bool MsgpackReader::peek_nil() const noexcept {
  return has(1) && peek() == 0xc0;
}

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

DecodeErrc MsgpackReader::read_uint(std::uint64_t& v) noexcept {
  if (!has(1)) return DecodeErrc::kTruncated;
  const std::uint8_t b = peek();
  if (b <= 0x7f) {
    v = b;
    pos_ += 1;
    return DecodeErrc::kOk;
  }
  if (b < 0xcc || b > 0xcf) {
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
  const std::size_t width = std::size_t{1} << (b & 0x03);  // uint 8/16/32/64: 0xcc-0xcf
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

DecodeErrc MsgpackReader::skip_value() noexcept {
  const std::size_t start = pos_;
  const auto fail = [&](DecodeErrc e) {
    pos_ = start;
    return e;
  };
  // Values still to step over; a container adds its elements. Each takes at least a byte, so a
  // count above the bytes left is a truncated frame, which also keeps the count from overflowing.
  std::uint64_t values = 1;
  while (values > 0) {
    if (values > data_.size() - pos_) return fail(DecodeErrc::kTruncated);
    --values;
    const std::uint8_t b = peek();
    std::size_t head = 1;    // type byte and fixed-size fields
    std::size_t width = 0;   // big-endian length or count after the type byte
    std::uint64_t body = 0;  // bytes after the head
    bool count = false;      // the length counts elements (array) or pairs (map)
    bool pairs = false;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
      // fixint, nil, bool: the type byte is the value
    } else if (b <= 0x8f) {
      values += 2ull * (b & 0x0f);
    } else if (b <= 0x9f) {
      values += b & 0x0f;
    } else if (b <= 0xbf) {
      body = b & 0x1f;
    } else {
      switch (b) {
        case 0xc4:
        case 0xd9:
          width = 1;
          break;
        case 0xc5:
        case 0xda:
          width = 2;
          break;
        case 0xc6:
        case 0xdb:
          width = 4;
          break;
        case 0xc7:
          width = 1;
          head = 2;
          break;  // ext: a type byte after the length
        case 0xc8:
          width = 2;
          head = 2;
          break;
        case 0xc9:
          width = 4;
          head = 2;
          break;
        case 0xca:
          head = 5;
          break;
        case 0xcb:
          head = 9;
          break;
        case 0xcc:
        case 0xd0:
          head = 2;
          break;
        case 0xcd:
        case 0xd1:
          head = 3;
          break;
        case 0xce:
        case 0xd2:
          head = 5;
          break;
        case 0xcf:
        case 0xd3:
          head = 9;
          break;
        case 0xd4:
          head = 3;
          break;  // fixext 1, 2, 4, 8, 16: type byte and data
        case 0xd5:
          head = 4;
          break;
        case 0xd6:
          head = 6;
          break;
        case 0xd7:
          head = 10;
          break;
        case 0xd8:
          head = 18;
          break;
        case 0xdc:
          width = 2;
          count = true;
          break;
        case 0xdd:
          width = 4;
          count = true;
          break;
        case 0xde:
          width = 2;
          count = pairs = true;
          break;
        case 0xdf:
          width = 4;
          count = pairs = true;
          break;
        default:
          return fail(DecodeErrc::kWrongType);  // 0xc1, never used
      }
    }
    if (!has(head + width)) return fail(DecodeErrc::kTruncated);
    if (width > 0) {
      const std::uint64_t n = be(pos_ + 1, width);
      if (count) {
        values += pairs ? 2 * n : n;
      } else {
        body = n;
      }
    }
    const std::uint64_t size = width + head + body;
    if (size > data_.size() - pos_) return fail(DecodeErrc::kTruncated);
    pos_ += size;
  }
  return DecodeErrc::kOk;
}

}  // namespace brook::detail
