// libFuzzer target: the CLI's JSON <-> msgpack bridge (framework/cli/json_codec.hpp).
//
// The input is used twice: as the JSON text of `brook send` (errors are brook::UsageError), and
// as payload bytes shown by `brook tap` / `brook dead` (decoded under the receivers' limits,
// then printed). Whatever send accepts must decode at a receiver and print.
#include <brook/envelope_codec.hpp>
#include <brook/error.hpp>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "json_codec.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

void print(const msgpack::object& object) {
  (void)brook::cli::to_json(object).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  brook::PayloadDecoder decoder;
  msgpack::object object;

  try {
    const std::vector<std::byte> payload = brook::cli::payload_from_json(text);
    require(decoder.unpack(payload, object).ok());
    print(object);
  } catch (const brook::UsageError&) {
  }

  if (decoder.unpack(brook::as_bytes(text), object)) print(object);
  return 0;
}
