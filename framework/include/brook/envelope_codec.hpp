// Encoding and strict decoding of the envelope (docs/wire.md).
//
// Decoding never throws and never allocates: bad bytes are an expected input on a network socket,
// so the result is a DecodeStatus value naming the field and byte offset. Encoders reuse their
// buffers; one encoder per thread (they are not thread-safe).
#pragma once

#include <brook/envelope.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <msgpack.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace brook {

namespace detail {
class PayloadParser;
}

// Bounds applied to every frame before anything is allocated for it.
struct Limits {
  std::size_t max_message_size = 1024 * 1024;  // whole frame; also sets ZMQ_MAXMSGSIZE
  std::size_t max_name = 255;                  // producer, channel and type strings
  std::size_t max_key = 1024;                  // ordering key
  std::uint32_t max_headers = 64;
  std::size_t max_header_name = 255;
  std::size_t max_header_value = 4096;
  std::uint32_t max_depth = 64;         // nesting of the payload object
  std::size_t max_elements = 1u << 20;  // elements of one payload array or map
};

enum class DecodeErrc : std::uint8_t {
  kOk = 0,
  kEmpty,               // zero-length frame
  kTooLarge,            // frame longer than Limits::max_message_size
  kTruncated,           // frame ends inside a value
  kNotAnArray,          // first byte is not a msgpack array header
  kUnsupportedVersion,  // version field is not kWireVersion
  kWrongArity,          // array length is not kEnvelopeFields
  kWrongType,           // a field has the wrong msgpack type
  kOutOfRange,          // an integer does not fit its field, or a bad value (attempt 0, seq 0)
  kLimitExceeded,       // a string, header count or payload bound from Limits
  kTrailingBytes,       // bytes after the envelope array
  kBadPayload,          // payload bytes are not exactly one well-formed msgpack value
  kTypeMismatch,        // the envelope's type is not the handler's, or the payload is well-formed
                        // but does not convert to the handler's type
};

std::string_view to_string(DecodeErrc e) noexcept;

// Outcome of a decode. `field` names the envelope field (static storage), `offset` the byte.
struct [[nodiscard]] DecodeStatus {
  DecodeErrc code = DecodeErrc::kOk;
  const char* field = "";
  std::size_t offset = 0;

  bool ok() const noexcept { return code == DecodeErrc::kOk; }
  explicit operator bool() const noexcept { return ok(); }
  // e.g. "wrong type in field 'seq' at byte 14"
  std::string describe() const;
};

// Decodes one envelope frame. On success `out` points into `frame`, and every field of `out` was
// written: one view can take frame after frame without being reset.
DecodeStatus decode_envelope(std::span<const std::byte> frame, const Limits& limits,
                             EnvelopeView& out) noexcept;

// Fields of an outgoing envelope; the payload is supplied separately.
struct OutgoingEnvelope {
  std::string_view producer;
  std::uint64_t seq = 0;
  std::string_view channel;
  std::string_view type;
  std::optional<std::string_view> key;
  std::int64_t created_ns = 0;
  std::uint32_t attempt = 1;
  TraceId trace{};
  // Written in the 25-byte form when either is set, else in the 16-byte form (docs/wire.md).
  SpanId parent_span{};
  std::uint8_t trace_flags = 0;
  std::span<const Header> headers;
};

namespace detail {

// The encoder's buffer: msgpack's packer writes the payload through write(), the envelope's own
// fields are written in place through append(). Grows, never shrinks; not zeroed.
class FrameBuffer {
 public:
  FrameBuffer() = default;
  // A moved-from buffer is empty, not a size without storage.
  FrameBuffer(FrameBuffer&& other) noexcept
      : data_(std::move(other.data_)),
        size_(std::exchange(other.size_, 0)),
        capacity_(std::exchange(other.capacity_, 0)) {}
  FrameBuffer& operator=(FrameBuffer&& other) noexcept {
    data_ = std::move(other.data_);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    return *this;
  }

  void write(const char* bytes, std::size_t n) {
    if (n != 0) std::memcpy(append(n), bytes, n);  // the packer writes empty strings' bodies
  }
  // `n` more bytes at the end, to be written by the caller.
  char* append(std::size_t n) {
    if (capacity_ - size_ < n) grow(n);
    char* at = data_.get() + size_;
    size_ += n;
    return at;
  }
  void resize_down(std::size_t n) noexcept { size_ = n < size_ ? n : size_; }
  void clear() noexcept { size_ = 0; }
  char* data() noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }

 private:
  void grow(std::size_t n);

  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace detail

// Encodes envelopes into one reused buffer. The returned span is valid until the next encode.
class EnvelopeEncoder {
 public:
  EnvelopeEncoder() = default;
  EnvelopeEncoder(const EnvelopeEncoder&) = delete;
  EnvelopeEncoder& operator=(const EnvelopeEncoder&) = delete;
  EnvelopeEncoder(EnvelopeEncoder&&) noexcept = default;
  EnvelopeEncoder& operator=(EnvelopeEncoder&&) noexcept = default;

  // Packs `value` straight into the envelope's payload slot (no intermediate buffer).
  template <class T>
  std::span<const std::byte> encode(const OutgoingEnvelope& env, const T& value) {
    begin(env);
    msgpack::packer<detail::FrameBuffer> packer(buffer_);
    packer.pack(value);
    return finish();
  }

  // Payload given as ready-made msgpack bytes (forwarding, tools, tests).
  std::span<const std::byte> encode_raw(const OutgoingEnvelope& env,
                                        std::span<const std::byte> payload);

 private:
  void begin(const OutgoingEnvelope& env);
  std::span<const std::byte> finish();

  detail::FrameBuffer buffer_;
  std::size_t payload_header_at_ = 0;
};

// Unpacks payload bytes under Limits into a msgpack::object. Strings and binaries in the object
// reference the input bytes (zero copy), so the object is valid while the input is and until the
// next unpack() on this decoder. Not thread-safe; one per event loop.
// The parser and zone are kept across calls: a steady stream of payloads decodes without heap
// allocation.
class PayloadDecoder {
 public:
  explicit PayloadDecoder(const Limits& limits = {});
  ~PayloadDecoder();
  PayloadDecoder(const PayloadDecoder&) = delete;
  PayloadDecoder& operator=(const PayloadDecoder&) = delete;

  DecodeStatus unpack(std::span<const std::byte> bytes, msgpack::object& out) noexcept;
  void set_limits(const Limits& limits);

 private:
  msgpack::zone zone_;
  std::unique_ptr<detail::PayloadParser> parser_;
};

// Helpers for byte spans over chars.
inline std::span<const std::byte> as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
inline std::string_view as_string_view(std::span<const std::byte> b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace brook
