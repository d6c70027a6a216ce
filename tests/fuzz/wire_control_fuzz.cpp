// libFuzzer target: the data path's frames besides the envelope (docs/wire.md): acknowledgements,
// drains, welcomes and the hello subscriptions a publisher reads, plus the msgpack skipping they
// rely on.
//
// All of them report bad bytes by returning false or nullopt. skip_value must agree with
// msgpack-cxx on where a value ends; a decoded ack re-encodes to the same seqs.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "runtime/socket_setup.hpp"
#include "wire/control_frames.hpp"
#include "wire/msgpack_reader.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

void check_skip(std::span<const std::byte> bytes) {
  brook::detail::MsgpackReader reader(bytes);
  const bool skipped = reader.skip_value() == brook::DecodeErrc::kOk;
  msgpack::null_visitor visitor;
  std::size_t end = 0;
  const bool parsed =
      msgpack::parse(reinterpret_cast<const char*>(bytes.data()), bytes.size(), end, visitor);
  require(skipped == parsed);
  require(!skipped || reader.offset() == end);
}

void check_ack(std::span<const std::byte> bytes) {
  std::vector<std::uint64_t> seqs;
  if (!brook::detail::decode_ack(bytes, seqs)) return;
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(3);
  packer.pack_uint32(brook::kWireVersion);
  packer.pack(std::string_view("ack"));
  packer.pack_array(static_cast<std::uint32_t>(seqs.size()));
  for (const auto seq : seqs)
    packer.pack_uint64(seq);
  std::vector<std::uint64_t> again;
  require(brook::detail::decode_ack(
      std::span(reinterpret_cast<const std::byte*>(buffer.data()), buffer.size()), again));
  require(again == seqs);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  check_skip(bytes);
  check_ack(bytes);
  if (brook::detail::is_drain(bytes)) {
    std::vector<std::uint64_t> seqs;
    require(!brook::detail::decode_ack(bytes, seqs));
  }
  brook::detail::Welcome welcome;
  std::string why;
  if (!brook::detail::decode_welcome(bytes, welcome, why)) require(!why.empty());
  if (const auto id = brook::detail::hello_subscriber(brook::as_string_view(bytes))) {
    require(!id->empty() && id->size() <= brook::Limits{}.max_name);
  }
  return 0;
}
