#include "wire/payload_parser.hpp"

#include <algorithm>
#include <bit>

#include "wire/big_endian.hpp"

namespace brook::detail {

// Everything the loop calls is inlined into it: as calls they cost as much as the parsing.
#define BROOK_INLINE [[gnu::always_inline]] inline

struct PayloadCursor {
  const std::uint8_t* data;
  std::size_t size;
  std::size_t pos;
  PayloadParser::Open* open;  // the open containers, innermost at open[depth - 1]
  std::uint32_t depth;

  bool has(std::uint64_t n) const noexcept { return size - pos >= n; }
  // The W bytes after the value's tag.
  template <std::size_t W>
  std::uint64_t after_tag() const noexcept {
    return load_be<W>(data + pos + 1);
  }
};

namespace {

using Cursor = PayloadCursor;

template <std::size_t W>
BROOK_INLINE DecodeErrc unsigned_int(Cursor& c, msgpack::object& o) noexcept {
  if (!c.has(1 + W)) return DecodeErrc::kTruncated;
  o.type = msgpack::type::POSITIVE_INTEGER;
  o.via.u64 = c.after_tag<W>();
  c.pos += 1 + W;
  return DecodeErrc::kOk;
}

template <std::size_t W>
BROOK_INLINE DecodeErrc signed_int(Cursor& c, msgpack::object& o) noexcept {
  if (!c.has(1 + W)) return DecodeErrc::kTruncated;
  constexpr unsigned kShift = 64 - 8 * W;  // sign-extends from W bytes
  const auto v = static_cast<std::int64_t>(c.after_tag<W>() << kShift) >> kShift;
  if (v < 0) {  // msgpack-cxx's objects keep non-negative values as positive integers
    o.type = msgpack::type::NEGATIVE_INTEGER;
    o.via.i64 = v;
  } else {
    o.type = msgpack::type::POSITIVE_INTEGER;
    o.via.u64 = static_cast<std::uint64_t>(v);
  }
  c.pos += 1 + W;
  return DecodeErrc::kOk;
}

// A string or binary of `len` bytes after a header of `header` bytes (tag included); for an
// extension `len` counts its type byte, which `ptr` points at.
BROOK_INLINE DecodeErrc sized(Cursor& c, msgpack::object& o, msgpack::type::object_type type,
                              std::size_t header, std::uint64_t len, std::size_t max) noexcept {
  if (!c.has(header + len)) return DecodeErrc::kTruncated;
  if (len > max) return DecodeErrc::kLimitExceeded;
  const char* p = reinterpret_cast<const char*>(c.data + c.pos + header);
  o.type = type;
  if (type == msgpack::type::STR) {
    o.via.str.ptr = p;
    o.via.str.size = static_cast<std::uint32_t>(len);
  } else if (type == msgpack::type::BIN) {
    o.via.bin.ptr = p;
    o.via.bin.size = static_cast<std::uint32_t>(len);
  } else {
    o.via.ext.ptr = p;
    o.via.ext.size = static_cast<std::uint32_t>(len - 1);
  }
  c.pos += header + len;
  return DecodeErrc::kOk;
}

// str 8/16/32, bin 8/16/32, ext 8/16/32 (`extra` 1: the extension's type byte).
template <std::size_t W>
BROOK_INLINE DecodeErrc sized(Cursor& c, msgpack::object& o, msgpack::type::object_type type,
                              std::size_t extra, std::size_t max) noexcept {
  if (!c.has(1 + W)) return DecodeErrc::kTruncated;
  return sized(c, o, type, 1 + W, c.after_tag<W>() + extra, max);
}

}  // namespace

PayloadParser::PayloadParser(const Limits& limits)
    : max_depth_(limits.max_depth),
      max_elements_(limits.max_elements),
      max_bytes_(limits.max_message_size) {
  // Deeper payloads than this are rare; they grow the stack (it is never shrunk).
  open_.resize(std::max<std::size_t>(1, std::min<std::size_t>(max_depth_, 64)));
}

BROOK_INLINE void PayloadParser::push(Cursor& c, const Open& o) {
  if (c.depth == open_.size()) {  // past the first 64 levels: rare, and bounded by max_depth_
    open_.resize(2 * open_.size());
    c.open = open_.data();
  }
  c.open[c.depth++] = o;
}

BROOK_INLINE DecodeErrc PayloadParser::open(Cursor& c, msgpack::object& o, std::uint64_t n,
                                            bool map, std::size_t header, msgpack::zone& zone) {
  if (!c.has(header)) return DecodeErrc::kTruncated;
  if (n > (map ? max_elements_ / 2 + 1 : max_elements_) || c.depth >= max_depth_) {
    return DecodeErrc::kLimitExceeded;
  }
  c.pos += header;
  // Every element takes a byte at least: a larger count is a truncated payload, refused before
  // the zone sizes anything for it.
  if (!c.has(map ? 2 * n : n)) return DecodeErrc::kTruncated;
  const auto count = static_cast<std::uint32_t>(n);
  if (map) {
    o.type = msgpack::type::MAP;
    o.via.map.size = count;
    o.via.map.ptr = nullptr;
    if (count != 0) {
      o.via.map.ptr = static_cast<msgpack::object_kv*>(zone.allocate_align(
          count * sizeof(msgpack::object_kv), MSGPACK_ZONE_ALIGNOF(msgpack::object_kv)));
      push(c, Open{nullptr, o.via.map.ptr, 2 * count, 0});
    }
  } else {
    o.type = msgpack::type::ARRAY;
    o.via.array.size = count;
    o.via.array.ptr = nullptr;
    if (count != 0) {
      o.via.array.ptr = static_cast<msgpack::object*>(zone.allocate_align(
          count * sizeof(msgpack::object), MSGPACK_ZONE_ALIGNOF(msgpack::object)));
      push(c, Open{o.via.array.ptr, nullptr, count, 0});
    }
  }
  return DecodeErrc::kOk;
}

BROOK_INLINE DecodeErrc PayloadParser::value(Cursor& c, msgpack::object& o, msgpack::zone& zone) {
  const std::uint8_t tag = c.data[c.pos];
  if (tag <= 0x7f) {
    o.type = msgpack::type::POSITIVE_INTEGER;
    o.via.u64 = tag;
    c.pos += 1;
    return DecodeErrc::kOk;
  }
  if (tag >= 0xe0) {
    o.type = msgpack::type::NEGATIVE_INTEGER;
    o.via.i64 = static_cast<std::int8_t>(tag);
    c.pos += 1;
    return DecodeErrc::kOk;
  }
  if (tag <= 0x8f) return open(c, o, tag & 0x0f, true, 1, zone);
  if (tag <= 0x9f) return open(c, o, tag & 0x0f, false, 1, zone);
  if (tag <= 0xbf) return sized(c, o, msgpack::type::STR, 1, tag & 0x1f, max_bytes_);
  using T = msgpack::type::object_type;
  switch (tag) {
    case 0xc0:
      o.type = msgpack::type::NIL;
      c.pos += 1;
      return DecodeErrc::kOk;
    case 0xc2:
    case 0xc3:
      o.type = msgpack::type::BOOLEAN;
      o.via.boolean = tag == 0xc3;
      c.pos += 1;
      return DecodeErrc::kOk;
    case 0xc4:
      return sized<1>(c, o, T::BIN, 0, max_bytes_);
    case 0xc5:
      return sized<2>(c, o, T::BIN, 0, max_bytes_);
    case 0xc6:
      return sized<4>(c, o, T::BIN, 0, max_bytes_);
    case 0xc7:  // ext 8/16/32: length, type byte, data
      return sized<1>(c, o, T::EXT, 1, max_bytes_);
    case 0xc8:
      return sized<2>(c, o, T::EXT, 1, max_bytes_);
    case 0xc9:
      return sized<4>(c, o, T::EXT, 1, max_bytes_);
    case 0xca:
      if (!c.has(5)) return DecodeErrc::kTruncated;
      o.type = msgpack::type::FLOAT32;
      o.via.f64 = std::bit_cast<float>(static_cast<std::uint32_t>(c.after_tag<4>()));
      c.pos += 5;
      return DecodeErrc::kOk;
    case 0xcb:
      if (!c.has(9)) return DecodeErrc::kTruncated;
      o.type = msgpack::type::FLOAT64;
      o.via.f64 = std::bit_cast<double>(c.after_tag<8>());
      c.pos += 9;
      return DecodeErrc::kOk;
    case 0xcc:
      return unsigned_int<1>(c, o);
    case 0xcd:
      return unsigned_int<2>(c, o);
    case 0xce:
      return unsigned_int<4>(c, o);
    case 0xcf:
      return unsigned_int<8>(c, o);
    case 0xd0:
      return signed_int<1>(c, o);
    case 0xd1:
      return signed_int<2>(c, o);
    case 0xd2:
      return signed_int<4>(c, o);
    case 0xd3:
      return signed_int<8>(c, o);
    case 0xd4:  // fixext 1..16: a type byte and 2^k data bytes
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
      return sized(c, o, T::EXT, 1, 1 + (std::uint64_t{1} << (tag - 0xd4)), max_bytes_);
    case 0xd9:
      return sized<1>(c, o, T::STR, 0, max_bytes_);
    case 0xda:
      return sized<2>(c, o, T::STR, 0, max_bytes_);
    case 0xdb:
      return sized<4>(c, o, T::STR, 0, max_bytes_);
    case 0xdc:
      return c.has(3) ? open(c, o, c.after_tag<2>(), false, 3, zone) : DecodeErrc::kTruncated;
    case 0xdd:
      return c.has(5) ? open(c, o, c.after_tag<4>(), false, 5, zone) : DecodeErrc::kTruncated;
    case 0xde:
      return c.has(3) ? open(c, o, c.after_tag<2>(), true, 3, zone) : DecodeErrc::kTruncated;
    case 0xdf:
      return c.has(5) ? open(c, o, c.after_tag<4>(), true, 5, zone) : DecodeErrc::kTruncated;
    default:  // 0xc1, which msgpack reserves
      return DecodeErrc::kBadPayload;
  }
}

DecodeStatus PayloadParser::parse(std::span<const std::byte> bytes, msgpack::zone& zone,
                                  msgpack::object& out) {
  Cursor c{reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), 0, open_.data(), 0};
  msgpack::object* slot = &out;
  for (;;) {
    const std::size_t at = c.pos;
    if (at == c.size) return {DecodeErrc::kTruncated, "payload", at};
    const std::uint32_t depth = c.depth;
    if (const DecodeErrc e = value(c, *slot, zone); e != DecodeErrc::kOk) {
      return {e, "payload", at};
    }
    if (c.depth > depth) {  // a container with elements: fill its first
      slot = c.open[c.depth - 1].slot(0);
      continue;
    }
    // A value is complete: the next slot of the innermost container with one left.
    while (c.depth != 0 && ++c.open[c.depth - 1].next == c.open[c.depth - 1].slots)
      --c.depth;
    if (c.depth == 0) {
      if (c.pos != c.size) return {DecodeErrc::kTrailingBytes, "payload", c.pos};
      return {};
    }
    const Open& top = c.open[c.depth - 1];
    slot = top.slot(top.next);
  }
}

#undef BROOK_INLINE

}  // namespace brook::detail

namespace brook {

PayloadDecoder::PayloadDecoder(const Limits& limits)
    : parser_(std::make_unique<detail::PayloadParser>(limits)) {}

PayloadDecoder::~PayloadDecoder() = default;

void PayloadDecoder::set_limits(const Limits& limits) {
  parser_ = std::make_unique<detail::PayloadParser>(limits);
}

DecodeStatus PayloadDecoder::unpack(std::span<const std::byte> bytes,
                                    msgpack::object& out) noexcept {
  if (bytes.empty()) return {DecodeErrc::kBadPayload, "payload", 0};
  try {
    zone_.clear();
    return parser_->parse(bytes, zone_, out);
  } catch (const std::bad_alloc&) {
    return {DecodeErrc::kLimitExceeded, "payload", 0};
  }
}

}  // namespace brook
