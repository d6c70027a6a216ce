// libFuzzer target: the envelope decoder and the payload decoder behind it (docs/wire.md).
//
// Both report bad bytes as a DecodeStatus; converting a payload to a handler's type throws
// msgpack::type_error (Message::as turns it into PayloadError). Any other exception, a crash or a
// sanitizer report is a finding. A frame that decodes must re-encode to an equal envelope.
#include <brook/envelope_codec.hpp>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

// Shaped like the payloads handlers declare, so that conversion code is exercised too.
struct Order {
  std::string id;
  std::int64_t quantity = 0;
  double price = 0;
  bool paid = false;
  std::vector<std::string> tags;
  std::map<std::string, std::uint32_t> counts;
  std::optional<std::string> note;
  MSGPACK_DEFINE_MAP(id, quantity, price, paid, tags, counts, note)
};

void require(bool condition) {
  if (!condition) std::abort();
}

std::string packed(const msgpack::object& o) {
  msgpack::sbuffer b;
  msgpack::pack(b, o);
  return {b.data(), b.size()};
}

// brook's payload parser builds what msgpack-cxx's own unpack() builds under the same limits,
// and accepts exactly what it accepts (compared packed: NaN is not equal to itself).
void check_against_msgpack(std::span<const std::byte> bytes, const brook::Limits& limits,
                           bool decoded, const msgpack::object& object) {
  const std::size_t n = limits.max_elements;
  const std::size_t any = limits.max_message_size;
  const msgpack::unpack_limit limit(n, n / 2 + 1, any, any, any, limits.max_depth);
  msgpack::object_handle reference;
  bool accepted = false;
  try {
    std::size_t off = 0;
    reference = msgpack::unpack(reinterpret_cast<const char*>(bytes.data()), bytes.size(), off,
                                nullptr, nullptr, limit);
    accepted = off == bytes.size();
  } catch (const std::exception&) {
  }
  require(decoded == accepted);
  if (decoded) require(packed(object) == packed(reference.get()));
}

void check_payload(std::span<const std::byte> bytes, const brook::Limits& limits) {
  brook::PayloadDecoder decoder(limits);
  msgpack::object object;
  const bool decoded = decoder.unpack(bytes, object).ok();
  check_against_msgpack(bytes, limits, decoded, object);
  if (!decoded) return;
  try {
    (void)object.as<Order>();
  } catch (const msgpack::type_error&) {
  }
}

void check_round_trip(const brook::EnvelopeView& view, const brook::Limits& limits) {
  const brook::Envelope first = brook::Envelope::from_view(view);
  require(first.headers.size() == view.header_count);

  std::vector<brook::Header> headers(first.headers.begin(), first.headers.end());
  brook::OutgoingEnvelope out;
  out.producer = first.producer;
  out.seq = first.seq;
  out.channel = first.channel;
  out.type = first.type;
  if (first.has_key) out.key = first.key;
  out.created_ns = first.created_ns;
  out.attempt = first.attempt;
  out.trace = first.trace;
  out.parent_span = first.parent_span;
  out.trace_flags = first.trace_flags;
  out.headers = headers;
  brook::EnvelopeEncoder encoder;
  const auto frame = encoder.encode_raw(out, view.payload);

  brook::Limits roomy = limits;
  roomy.max_message_size = frame.size();  // bin 32 and wide integers may have grown the frame
  brook::EnvelopeView again;
  require(brook::decode_envelope(frame, roomy, again).ok());
  const brook::Envelope second = brook::Envelope::from_view(again);
  require(first.producer == second.producer && first.seq == second.seq &&
          first.channel == second.channel && first.type == second.type &&
          first.has_key == second.has_key && first.key == second.key &&
          first.created_ns == second.created_ns && first.attempt == second.attempt &&
          first.trace == second.trace && first.parent_span == second.parent_span &&
          first.trace_flags == second.trace_flags && first.headers == second.headers &&
          first.payload == second.payload);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  const brook::Limits limits;

  brook::EnvelopeView view;
  if (const brook::DecodeStatus status = brook::decode_envelope(bytes, limits, view); status) {
    check_round_trip(view, limits);
    check_payload(view.payload, limits);
  } else {
    (void)status.describe();
  }
  // Wrapping mutated payloads in valid envelopes is rare, so the payload decoder gets the raw
  // bytes as well.
  check_payload(bytes, limits);
  return 0;
}
