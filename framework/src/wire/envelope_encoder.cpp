// EnvelopeEncoder: the envelope's fields written in place, the payload packed after them.
#include <algorithm>
#include <brook/envelope_codec.hpp>
#include <cstring>
#include <memory>

#include "wire/big_endian.hpp"

namespace brook {

namespace {

// Writes each value in msgpack's shortest form, the one msgpack-cxx's packer picks, so frames
// are byte for byte what the packer wrote (EnvelopeEncoder tests compare the two). In place and
// unchecked: begin() reserved the most the fields can take. A packer call per field cost ~720
// instructions an envelope against ~350 this way (callgrind, relay main thread, docs/bench.md).
class FieldWriter {
 public:
  static constexpr std::size_t kMaxNumber = 9;  // tag and 8 bytes
  static constexpr std::size_t kMaxHeader = 5;  // tag and a 32-bit length or count

  explicit FieldWriter(char* at) noexcept : p_(at) {}
  char* end() const noexcept { return p_; }

  void tag(std::uint8_t b) noexcept { *p_++ = static_cast<char>(b); }
  // The low W bytes of v, most significant first.
  template <std::size_t W>
  void be(std::uint64_t v) noexcept {
    detail::store_be<W>(p_, v);
    p_ += W;
  }
  void uint(std::uint64_t v) noexcept {
    if (v < 128) {
      tag(static_cast<std::uint8_t>(v));
    } else if (v < 256) {
      tag(0xcc);
      be<1>(v);
    } else if (v < 65536) {
      tag(0xcd);
      be<2>(v);
    } else if (v < (std::uint64_t{1} << 32)) {
      tag(0xce);
      be<4>(v);
    } else {
      tag(0xcf);
      be<8>(v);
    }
  }
  void int64(std::int64_t v) noexcept {
    if (v >= 0) return uint(static_cast<std::uint64_t>(v));
    const auto bits = static_cast<std::uint64_t>(v);
    if (v >= -32) {
      tag(static_cast<std::uint8_t>(bits));  // negative fixint
    } else if (v >= -128) {
      tag(0xd0);
      be<1>(bits);
    } else if (v >= -32768) {
      tag(0xd1);
      be<2>(bits);
    } else if (v >= INT32_MIN) {
      tag(0xd2);
      be<4>(bits);
    } else {
      tag(0xd3);
      be<8>(bits);
    }
  }
  void str(std::string_view s) noexcept {
    const std::size_t n = s.size();
    if (n < 32) {
      tag(static_cast<std::uint8_t>(0xa0 | n));
    } else if (n < 256) {
      tag(0xd9);
      be<1>(n);
    } else if (n < 65536) {
      tag(0xda);
      be<2>(n);
    } else {
      tag(0xdb);
      be<4>(n);
    }
    bytes(s.data(), n);
  }
  void bin(const void* data, std::size_t n) noexcept {
    if (n < 256) {
      tag(0xc4);
      be<1>(n);
    } else if (n < 65536) {
      tag(0xc5);
      be<2>(n);
    } else {
      tag(0xc6);
      be<4>(n);
    }
    bytes(data, n);
  }
  void map_header(std::size_t n) noexcept {
    if (n < 16) {
      tag(static_cast<std::uint8_t>(0x80 | n));
    } else if (n < 65536) {
      tag(0xde);
      be<2>(n);
    } else {
      tag(0xdf);
      be<4>(n);
    }
  }

 private:
  void bytes(const void* data, std::size_t n) noexcept {
    if (n != 0) std::memcpy(p_, data, n);
    p_ += n;
  }

  char* p_;
};

}  // namespace

void EnvelopeEncoder::begin(const OutgoingEnvelope& env) {
  static_assert(kEnvelopeFields < 16, "the envelope array is a fixarray");
  using W = FieldWriter;
  std::size_t bound = 1 + W::kMaxNumber * 4 + W::kMaxHeader * 7 + kTraceContextSize +
                      env.producer.size() + env.channel.size() + env.type.size() +
                      (env.key ? env.key->size() : 0);
  for (const auto& [k, v] : env.headers)
    bound += 2 * W::kMaxHeader + k.size() + v.size();
  buffer_.clear();
  char* const start = buffer_.append(bound);
  W w(start);
  w.tag(static_cast<std::uint8_t>(0x90 | kEnvelopeFields));
  w.uint(kWireVersion);
  w.str(env.producer);
  w.uint(env.seq);
  w.str(env.channel);
  w.str(env.type);
  if (env.key) {
    w.str(*env.key);
  } else {
    w.tag(0xc0);
  }
  w.int64(env.created_ns);
  w.uint(env.attempt);
  // Unsampled messages keep the 16-byte form every version of the wire decodes.
  if (env.trace_flags == 0 && env.parent_span == SpanId{}) {
    w.bin(env.trace.data(), kTraceIdSize);
  } else {
    char context[kTraceContextSize];
    std::memcpy(context, env.trace.data(), kTraceIdSize);
    std::memcpy(context + kTraceIdSize, env.parent_span.data(), kSpanIdSize);
    context[kTraceContextSize - 1] = static_cast<char>(env.trace_flags);
    w.bin(context, kTraceContextSize);
  }
  w.map_header(env.headers.size());
  for (const auto& [k, v] : env.headers) {
    w.str(k);
    w.str(v);
  }
  // The payload length is known only after packing the value in place, so reserve a bin32 header
  // (valid msgpack for any length) and patch it in finish().
  payload_header_at_ = static_cast<std::size_t>(w.end() - start);
  w.tag(0xc6);
  w.be<4>(0);
  buffer_.resize_down(static_cast<std::size_t>(w.end() - start));
}

std::span<const std::byte> EnvelopeEncoder::finish() {
  const std::size_t body = buffer_.size() - payload_header_at_ - 5;
  detail::store_be<4>(buffer_.data() + payload_header_at_ + 1, body);
  return {reinterpret_cast<const std::byte*>(buffer_.data()), buffer_.size()};
}

std::span<const std::byte> EnvelopeEncoder::encode_raw(const OutgoingEnvelope& env,
                                                       std::span<const std::byte> payload) {
  begin(env);
  buffer_.write(reinterpret_cast<const char*>(payload.data()), payload.size());
  return finish();
}

namespace detail {

void FrameBuffer::grow(std::size_t n) {
  // Doubling: a payload packed field by field grows the buffer a few times at first, then never.
  const std::size_t capacity = std::max({std::size_t{1024}, 2 * capacity_, size_ + n});
  auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
  if (size_ != 0) std::memcpy(bigger.get(), data_.get(), size_);
  data_ = std::move(bigger);
  capacity_ = capacity;
}

}  // namespace detail

}  // namespace brook
