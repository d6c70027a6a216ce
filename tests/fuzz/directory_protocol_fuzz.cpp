// libFuzzer target: the directory protocol decoders (docs/directory.md) and the directory's
// handling of whatever they accept.
//
// The input is a session: frames separated by the two bytes C1 C1 (0xc1 is never used by
// msgpack). Each frame is decoded as all four message kinds; decoders report bad frames as a
// ProtocolStatus and must never throw. A decoded request is handled by a DirectoryRegistry, and
// everything the directory then sends (the reply, the published changes) must decode at a client.
// A decoded message re-encodes to a canonical frame that decodes to the same bytes again.
#include <brook/envelope_codec.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "directory/directory_protocol.hpp"
#include "directory_logic.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

// decode(encode(m)) succeeds and is a fixed point of encoding.
template <class Message>
void check_canonical(const Message& message) {
  const std::string once = brook::encode(message);
  Message back;
  require(static_cast<bool>(brook::decode(brook::as_bytes(once), back)));
  require(brook::encode(back) == once);
}

template <class Message>
bool decode_and_check(std::string_view frame, Message& out) {
  const brook::ProtocolStatus status = brook::decode(brook::as_bytes(frame), out);
  if (!status) {
    require(!status.error.empty());
    return false;
  }
  check_canonical(out);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  using Clock = brook::DirectoryRegistry::Clock;
  Clock::time_point now{};
  brook::DirectoryConfig config;
  config.max_instances = 8;
  config.pub_endpoint = "tcp://127.0.0.1:5671";
  brook::DirectoryRegistry registry(config, "fuzz-epoch", now);

  std::size_t start = 0;
  while (start <= input.size()) {
    const std::size_t end = std::min(input.find("\xc1\xc1", start), input.size());
    const std::string_view frame = input.substr(start, end - start);
    start = end + 2;

    brook::DirectoryReply reply;
    (void)decode_and_check(frame, reply);
    brook::DirectoryUpdate update;
    (void)decode_and_check(frame, update);
    brook::DirectoryTick tick;
    (void)decode_and_check(frame, tick);
    brook::DirectoryMark mark;
    (void)decode_and_check(frame, mark);
    brook::DirectoryRequest request;
    if (!decode_and_check(frame, request)) continue;

    now += std::chrono::milliseconds(700);
    std::vector<brook::DirectoryUpdate> changes;
    registry.expire(now, changes);
    const brook::DirectoryReply answer{request.id, registry.handle(request.body, now, changes)};
    check_canonical(answer);
    for (const auto& change : changes)
      check_canonical(change);
    check_canonical(brook::DirectoryTick{registry.state(now)});
    for (const auto& mark : registry.marks(now))
      check_canonical(mark);
  }
  return 0;
}
