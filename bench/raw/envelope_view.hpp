// The envelope (docs/wire.md: an 11-element msgpack array) and the bench payload {seq, t_ns,
// body}, decoded as views into the received frame and encoded into a caller's buffer: what a
// performance-minded engineer writes for a fixed layout instead of a msgpack tree decode, so the
// best raw baseline (raw_best_stage.cpp) allocates nothing per message. The checks are those of
// brook's own decoder (framework/src/wire/envelope_codec.cpp): version 1, 11 fields, every
// field's type, a non-empty producer, seq and attempt > 0, a 16- or 25-byte trace, string
// headers, a bin payload and no trailing bytes; a payload must be exactly [uint, int, str].
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

namespace bench {

// A bounds-checked cursor over msgpack bytes. Every read returns false on a truncated value or
// one of another type (any integer width is accepted, as docs/wire.md asks of a decoder).
class MsgpackCursor {
 public:
  MsgpackCursor(const void* data, std::size_t size)
      : p_(static_cast<const unsigned char*>(data)), end_(p_ + size) {}

  bool at_end() const { return p_ == end_; }

  bool array(std::uint32_t& n) { return container(0x90, 0xdc, n); }
  bool map(std::uint32_t& n) { return container(0x80, 0xde, n); }

  bool nil() {  // consumes a nil; false (and nothing consumed) for anything else
    if (p_ == end_ || *p_ != 0xc0) return false;
    ++p_;
    return true;
  }

  bool uint(std::uint64_t& v) {
    bool negative = false;
    if (!integer(v, negative) || negative) return false;
    return true;
  }

  bool sint(std::int64_t& v) {
    std::uint64_t bits = 0;
    bool negative = false;
    if (!integer(bits, negative)) return false;
    if (!negative && bits > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return false;
    }
    v = static_cast<std::int64_t>(bits);
    return true;
  }

  bool str(std::string_view& v) {
    if (p_ == end_) return false;
    const unsigned char tag = *p_;
    std::uint64_t n = 0;
    int width = 0;
    if ((tag & 0xe0) == 0xa0) {
      n = tag & 0x1f;
    } else if (tag >= 0xd9 && tag <= 0xdb) {
      width = 1 << (tag - 0xd9);
    } else {
      return false;
    }
    return sized(width, n, v);
  }

  bool bin(std::string_view& v) {
    if (p_ == end_ || *p_ < 0xc4 || *p_ > 0xc6) return false;
    return sized(1 << (*p_ - 0xc4), 0, v);
  }

 private:
  bool has(std::size_t n) const { return static_cast<std::size_t>(end_ - p_) >= n; }

  std::uint64_t big_endian(const unsigned char* at, int width) const {
    std::uint64_t v = 0;
    for (int i = 0; i < width; ++i)
      v = v << 8 | at[i];
    return v;
  }

  // A str or bin: the tag, a `width`-byte length (0: `n` is the length already), the bytes.
  bool sized(int width, std::uint64_t n, std::string_view& v) {
    if (!has(1 + static_cast<std::size_t>(width))) return false;
    if (width > 0) n = big_endian(p_ + 1, width);
    if (!has(1 + static_cast<std::size_t>(width) + n)) return false;
    v = {reinterpret_cast<const char*>(p_ + 1 + width), static_cast<std::size_t>(n)};
    p_ += 1 + width + n;
    return true;
  }

  // fix (tag & 0xf0 == fix), 16-bit (wide) or 32-bit (wide + 1) element count.
  bool container(unsigned char fix, unsigned char wide, std::uint32_t& n) {
    if (p_ == end_) return false;
    const unsigned char tag = *p_;
    if ((tag & 0xf0) == fix) {
      n = tag & 0x0f;
      ++p_;
      return true;
    }
    if (tag != wide && tag != wide + 1) return false;
    const int width = tag == wide ? 2 : 4;
    if (!has(1 + static_cast<std::size_t>(width))) return false;
    n = static_cast<std::uint32_t>(big_endian(p_ + 1, width));
    p_ += 1 + width;
    return true;
  }

  // Any integer format: its two's-complement bits, and whether the value is negative.
  bool integer(std::uint64_t& bits, bool& negative) {
    if (p_ == end_) return false;
    const unsigned char tag = *p_;
    if (tag <= 0x7f || tag >= 0xe0) {  // positive and negative fixint
      bits = static_cast<std::uint64_t>(static_cast<std::int64_t>(static_cast<signed char>(tag)));
      negative = tag >= 0xe0;
      ++p_;
      return true;
    }
    if (tag < 0xcc || tag > 0xd3) return false;
    const bool is_signed = tag >= 0xd0;
    const int width = 1 << (tag - (is_signed ? 0xd0 : 0xcc));
    if (!has(1 + static_cast<std::size_t>(width))) return false;
    bits = big_endian(p_ + 1, width);
    negative = false;
    if (is_signed && width < 8 && (bits >> (width * 8 - 1)) != 0) {
      bits |= ~std::uint64_t{0} << (width * 8);  // sign-extend
    }
    if (is_signed) negative = static_cast<std::int64_t>(bits) < 0;
    p_ += 1 + width;
    return true;
  }

  const unsigned char* p_;
  const unsigned char* end_;
};

struct EnvelopeView {
  std::string_view producer, channel, type, key, trace, payload;
  std::uint64_t seq = 0;
  std::int64_t created_ns = 0;
  std::uint64_t attempt = 0;
  bool has_key = false;
};

struct PayloadView {
  std::uint64_t seq = 0;
  std::int64_t t_ns = 0;
  std::string_view body;
};

inline bool decode_envelope(const void* frame, std::size_t size, EnvelopeView& e) {
  MsgpackCursor c(frame, size);
  std::uint32_t fields = 0;
  std::uint64_t version = 0;
  if (!c.array(fields) || fields != 11 || !c.uint(version) || version != 1) return false;
  if (!c.str(e.producer) || e.producer.empty() || !c.uint(e.seq) || e.seq == 0) return false;
  if (!c.str(e.channel) || !c.str(e.type)) return false;
  e.has_key = !c.nil();
  if (e.has_key && !c.str(e.key)) return false;
  if (!c.sint(e.created_ns) || !c.uint(e.attempt) || e.attempt == 0 ||
      e.attempt > std::numeric_limits<std::uint32_t>::max()) {
    return false;
  }
  if (!c.bin(e.trace) || (e.trace.size() != 16 && e.trace.size() != 25)) return false;
  std::uint32_t headers = 0;
  if (!c.map(headers)) return false;
  for (std::uint32_t i = 0; i < headers; ++i) {
    std::string_view k, v;
    if (!c.str(k) || !c.str(v)) return false;
  }
  return c.bin(e.payload) && c.at_end();
}

inline bool decode_payload(std::string_view bytes, PayloadView& m) {
  MsgpackCursor c(bytes.data(), bytes.size());
  std::uint32_t fields = 0;
  return c.array(fields) && fields == 3 && c.uint(m.seq) && c.sint(m.t_ns) && c.str(m.body) &&
         c.at_end();
}

// Appends msgpack values to a caller's buffer, which must be large enough (see
// EnvelopeWriter::capacity): the caller sizes it once, so nothing is checked per byte.
class MsgpackWriter {
 public:
  explicit MsgpackWriter(char* out) : begin_(out), p_(out) {}
  std::size_t size() const { return static_cast<std::size_t>(p_ - begin_); }

  void array(std::uint32_t n) { header(0x90, 0xdc, n); }
  void map(std::uint32_t n) { header(0x80, 0xde, n); }
  void nil() { *p_++ = static_cast<char>(0xc0); }

  void uint(std::uint64_t v) {  // the smallest format, as msgpack-c's packer picks
    if (v <= 0x7f) {
      *p_++ = static_cast<char>(v);
    } else if (v <= 0xff) {
      tagged(0xcc, v, 1);
    } else if (v <= 0xffff) {
      tagged(0xcd, v, 2);
    } else if (v <= 0xffffffff) {
      tagged(0xce, v, 4);
    } else {
      tagged(0xcf, v, 8);
    }
  }

  void sint(std::int64_t v) {
    if (v >= 0) return uint(static_cast<std::uint64_t>(v));
    const auto bits = static_cast<std::uint64_t>(v);
    if (v >= -32) {
      *p_++ = static_cast<char>(bits);
    } else if (v >= std::numeric_limits<std::int8_t>::min()) {
      tagged(0xd0, bits, 1);
    } else if (v >= std::numeric_limits<std::int16_t>::min()) {
      tagged(0xd1, bits, 2);
    } else if (v >= std::numeric_limits<std::int32_t>::min()) {
      tagged(0xd2, bits, 4);
    } else {
      tagged(0xd3, bits, 8);
    }
  }

  void str(std::string_view s) {
    if (s.size() <= 31) {
      *p_++ = static_cast<char>(0xa0 | s.size());
    } else {
      length(0xd9, s.size());
    }
    bytes(s);
  }

  void bin_header(std::size_t n) { length(0xc4, n); }
  void bytes(std::string_view s) {
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }

  // Encoded sizes, so a bin can be given its length before its contents are written.
  static std::size_t uint_size(std::uint64_t v) {
    return v <= 0x7f ? 1 : v <= 0xff ? 2 : v <= 0xffff ? 3 : v <= 0xffffffff ? 5 : 9;
  }
  static std::size_t sint_size(std::int64_t v) {
    if (v >= 0) return uint_size(static_cast<std::uint64_t>(v));
    return v >= -32 ? 1 : v >= -128 ? 2 : v >= -32768 ? 3 : v >= -2147483648LL ? 5 : 9;
  }
  static std::size_t str_size(std::size_t n) {
    return n + (n <= 31 ? 1 : n <= 0xff ? 2 : n <= 0xffff ? 3 : 5);
  }
  static std::size_t bin_size(std::size_t n) { return n + (n <= 0xff ? 2 : n <= 0xffff ? 3 : 5); }

 private:
  void tagged(unsigned char tag, std::uint64_t v, int width) {
    *p_++ = static_cast<char>(tag);
    for (int i = width - 1; i >= 0; --i)
      *p_++ = static_cast<char>(v >> (8 * i));
  }
  // str8/bin8 tag; the 16- and 32-bit forms follow it.
  void length(unsigned char tag8, std::size_t n) {
    if (n <= 0xff) {
      tagged(tag8, n, 1);
    } else if (n <= 0xffff) {
      tagged(static_cast<unsigned char>(tag8 + 1), n, 2);
    } else {
      tagged(static_cast<unsigned char>(tag8 + 2), n, 4);
    }
  }
  void header(unsigned char fix, unsigned char wide, std::uint32_t n) {
    if (n <= 15) {
      *p_++ = static_cast<char>(fix | n);
    } else if (n <= 0xffff) {
      tagged(wide, n, 2);
    } else {
      tagged(static_cast<unsigned char>(wide + 1), n, 4);
    }
  }

  char* begin_;
  char* p_;
};

// The same fields bench::EnvelopeCodec writes (bench/common/bench_stage.hpp), the payload
// encoded in place inside the envelope's bin: no intermediate buffer.
class EnvelopeWriter {
 public:
  EnvelopeWriter(std::string_view producer, std::string_view channel)
      : producer_(producer), channel_(channel) {}

  // The largest envelope around a body of `body_size` bytes.
  std::size_t capacity(std::size_t body_size) const {
    return 64 + MsgpackWriter::str_size(producer_.size()) +
           MsgpackWriter::str_size(channel_.size()) + MsgpackWriter::str_size(kType.size()) +
           MsgpackWriter::bin_size(32 + MsgpackWriter::str_size(body_size));
  }

  // Writes the envelope into `out` (at least capacity(body.size()) bytes); returns its size.
  std::size_t encode(char* out, std::uint64_t seq, std::int64_t created_ns,
                     const PayloadView& m) const {
    MsgpackWriter w(out);
    w.array(11);
    w.uint(1);
    w.str(producer_);
    w.uint(seq);
    w.str(channel_);
    w.str(kType);
    w.nil();
    w.sint(created_ns);
    w.uint(1);
    w.bin_header(sizeof kTrace);
    w.bytes({kTrace, sizeof kTrace});
    w.map(0);
    w.bin_header(1 + MsgpackWriter::uint_size(m.seq) + MsgpackWriter::sint_size(m.t_ns) +
                 MsgpackWriter::str_size(m.body.size()));
    w.array(3);
    w.uint(m.seq);
    w.sint(m.t_ns);
    w.str(m.body);
    return w.size();
  }

 private:
  static constexpr std::string_view kType = "bench.Msg";
  static constexpr char kTrace[16] = {};
  std::string_view producer_;
  std::string_view channel_;
};

}  // namespace bench
