#include "wire/control_frames.hpp"

#include <brook/envelope.hpp>
#include <brook/envelope_codec.hpp>
#include <msgpack.hpp>

#include "wire/msgpack_reader.hpp"
#include "wire/object_reader.hpp"

namespace brook::detail {

void encode_ack(std::span<const std::uint64_t> seqs, msgpack::sbuffer& out) {
  out.clear();
  msgpack::packer<msgpack::sbuffer> pk(out);
  pk.pack_array(3);
  pk.pack_uint32(kWireVersion);
  pk.pack(std::string_view("ack"));
  pk.pack_array(static_cast<std::uint32_t>(seqs.size()));
  for (const auto s : seqs)
    pk.pack_uint64(s);
}

bool decode_ack(std::span<const std::byte> frame, std::vector<std::uint64_t>& seqs) {
  seqs.clear();
  MsgpackReader r(frame);
  std::uint32_t fields = 0;
  std::uint64_t version = 0;
  std::string_view kind;
  std::uint32_t count = 0;
  if (r.read_array_header(fields) != DecodeErrc::kOk || fields != 3) return false;
  if (r.read_uint(version) != DecodeErrc::kOk || version != kWireVersion) return false;
  if (r.read_str(kind) != DecodeErrc::kOk || kind != "ack") return false;
  if (r.read_array_header(count) != DecodeErrc::kOk) return false;
  // No reserve(count): the count is the peer's claim, the bytes are what it sent.
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint64_t seq = 0;
    if (r.read_uint(seq) == DecodeErrc::kOk) {
      seqs.push_back(seq);
    } else if (r.skip_value() != DecodeErrc::kOk) {
      return false;
    }
  }
  return true;
}

void encode_drain(msgpack::sbuffer& out) {
  out.clear();
  msgpack::packer<msgpack::sbuffer> pk(out);
  pk.pack_array(2);
  pk.pack_uint32(kWireVersion);
  pk.pack(std::string_view("drain"));
}

bool is_drain(std::span<const std::byte> frame) noexcept {
  MsgpackReader r(frame);
  std::uint32_t fields = 0;
  std::uint64_t version = 0;
  std::string_view kind;
  return r.read_array_header(fields) == DecodeErrc::kOk && fields == 2 &&
         r.read_uint(version) == DecodeErrc::kOk && version == kWireVersion &&
         r.read_str(kind) == DecodeErrc::kOk && kind == "drain";
}

void encode_welcome(const Welcome& w, msgpack::sbuffer& out) {
  out.clear();
  msgpack::packer<msgpack::sbuffer> p(out);
  p.pack_map(4);
  p.pack(std::string_view("v"));
  p.pack(1);
  p.pack(std::string_view("publisher"));
  p.pack(std::string_view(w.publisher));
  p.pack(std::string_view("channel"));
  p.pack(std::string_view(w.channel));
  p.pack(std::string_view("next_seq"));
  p.pack_uint64(w.next_seq);
}

bool decode_welcome(std::span<const std::byte> frame, Welcome& out, std::string& why) {
  msgpack::object_handle h;
  if (!unpack_control_frame(as_string_view(frame), h, why)) {
    why = "malformed welcome: " + why;
    return false;
  }
  ObjectReader f(h.get(), "welcome");
  f.str("publisher", out.publisher, Limits{}.max_name);
  f.str("channel", out.channel, Limits{}.max_name, false);
  f.uint("next_seq", out.next_seq);
  if (!f.ok()) why = f.error();
  return f.ok();
}

namespace {
constexpr std::string_view kTapRefused = "tap-refused";
}  // namespace

void encode_tap_refusal(const TapRefusal& r, msgpack::sbuffer& out) {
  out.clear();
  msgpack::packer<msgpack::sbuffer> p(out);
  p.pack_array(3);
  p.pack_uint32(kWireVersion);
  p.pack(kTapRefused);
  p.pack_map(3);
  p.pack(std::string_view("producer"));
  p.pack(std::string_view(r.producer));
  p.pack(std::string_view("channel"));
  p.pack(std::string_view(r.channel));
  p.pack(std::string_view("limit"));
  p.pack_uint64(r.limit);
}

std::string_view tap_refusal_prefix() noexcept {
  // fixarray(3), positive fixint 1 (kWireVersion), fixstr(11) "tap-refused".
  static_assert(kWireVersion == 1 && kTapRefused.size() == 11);
  static constexpr char kPrefix[] = "\x93\x01\xabtap-refused";
  return {kPrefix, sizeof kPrefix - 1};
}

bool decode_tap_refusal(std::span<const std::byte> frame, TapRefusal& out, std::string& why) {
  MsgpackReader r(frame);
  std::uint32_t fields = 0;
  std::uint64_t version = 0;
  std::string_view kind;
  if (r.read_array_header(fields) != DecodeErrc::kOk || fields != 3 ||
      r.read_uint(version) != DecodeErrc::kOk || version != kWireVersion ||
      r.read_str(kind) != DecodeErrc::kOk || kind != kTapRefused) {
    why = "not a tap refusal: expected [1, \"tap-refused\", {...}]";
    return false;
  }
  msgpack::object_handle h;
  if (!unpack_control_frame(as_string_view(r.rest()), h, why)) {
    why = "malformed tap refusal: " + why;
    return false;
  }
  ObjectReader f(h.get(), "tap refusal");
  f.str("producer", out.producer, Limits{}.max_name);
  f.str("channel", out.channel, Limits{}.max_name);
  f.uint("limit", out.limit);
  if (!f.ok()) why = f.error();
  return f.ok();
}

}  // namespace brook::detail
