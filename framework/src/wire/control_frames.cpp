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

}  // namespace brook::detail
