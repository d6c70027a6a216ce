// JSON <-> msgpack for tools: `brook tap` shows payloads as JSON, `brook send` turns JSON into
// msgpack payloads. The mapping is lossless for what JSON can express; the rest is tagged:
// bin -> {"$bin": "<hex>"}, ext -> {"$ext": type, "data": "<hex>"}, a map with a non-string key
// -> {"$map": [[key, value], ...]}.
#pragma once

#include <brook/envelope_codec.hpp>
#include <cstddef>
#include <msgpack.hpp>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

namespace brook::cli {

// Nesting deeper than this becomes the string "<too deep>" instead of recursing further.
inline constexpr int kMaxJsonDepth = 64;

nlohmann::json to_json(const msgpack::object& o, int depth = 0);
std::vector<std::byte> to_msgpack(const nlohmann::json& j);

// Bounds on the JSON text `brook send` turns into a payload. The depth is the one receivers
// decode payloads with (Limits::max_depth), so nothing is sent that no node could read.
inline constexpr std::size_t kMaxPayloadJsonSize = 16 * 1024 * 1024;
inline constexpr std::uint32_t kMaxPayloadJsonDepth = Limits{}.max_depth;

// Parses a payload given as JSON and packs it as msgpack. Throws brook::UsageError saying what
// is wrong: not JSON (and where), larger than kMaxPayloadJsonSize, or arrays and objects nested
// deeper than kMaxPayloadJsonDepth.
std::vector<std::byte> payload_from_json(std::string_view text);

}  // namespace brook::cli
