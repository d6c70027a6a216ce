#include "wire/msgpack_reader.hpp"

namespace brook::detail {

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
