// The frames of the data path besides the envelope (docs/wire.md): acknowledgements, welcomes
// and tap refusals, encoded and decoded here only. Decoding is bounded by the frame's size,
// allocates nothing for declared lengths and never throws.
#pragma once

#include <cstdint>
#include <msgpack/sbuffer_decl.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace brook::detail {

// `[1, "ack", [seq, ...]]` into `out` (cleared first).
void encode_ack(std::span<const std::uint64_t> seqs, msgpack::sbuffer& out);

// `[1, "ack", [seq, ...]]`: fills `seqs` with the positive integers of the array (other elements
// are skipped). False when the frame is not such an array; `seqs` is then meaningless.
bool decode_ack(std::span<const std::byte> frame, std::vector<std::uint64_t>& seqs);

// `[1, "drain"]`, a consumer replica's word to a producer that it is stopping: send it nothing
// new; what it holds, it handles and acknowledges before it leaves.
void encode_drain(msgpack::sbuffer& out);
bool is_drain(std::span<const std::byte> frame) noexcept;

struct Welcome {
  std::string publisher;
  std::string channel;
  std::uint64_t next_seq = 0;
};

// `{"v": 1, "publisher": str, "channel": str, "next_seq": uint}` into `out` (cleared first).
void encode_welcome(const Welcome& w, msgpack::sbuffer& out);

// `{"publisher": str, "next_seq": uint, ...}`; false with `why` set when it is not one.
bool decode_welcome(std::span<const std::byte> frame, Welcome& out, std::string& why);

// A producer's answer to a tap it will not serve (it already serves the most it may).
struct TapRefusal {
  std::string producer;  // the refusing instance's producer id
  std::string channel;
  std::uint64_t limit = 0;  // taps one producer serves per channel
};

// `[1, "tap-refused", {"producer": str, "channel": str, "limit": uint}]` into `out` (cleared).
void encode_tap_refusal(const TapRefusal& r, msgpack::sbuffer& out);

// Whether `frame` starts like a tap refusal (the bytes of `[1, "tap-refused", `): what a tap's
// SUB socket subscribes to, since the refusal reaches it as a single frame.
std::string_view tap_refusal_prefix() noexcept;

// A tap refusal; false with `why` set when the frame is not one.
bool decode_tap_refusal(std::span<const std::byte> frame, TapRefusal& out, std::string& why);

}  // namespace brook::detail
