// JSON <-> msgpack for tools: `brook tap` shows payloads as JSON, `brook send` turns JSON into
// msgpack payloads. The mapping is lossless for what JSON can express; the rest is tagged:
// bin -> {"$bin": "<hex>"}, ext -> {"$ext": type, "data": "<hex>"}, a map with a non-string key
// -> {"$map": [[key, value], ...]}.
#pragma once

#include <msgpack.hpp>
#include <nlohmann/json.hpp>

#include <cstddef>
#include <vector>

namespace brook::cli {

// Nesting deeper than this becomes the string "<too deep>" instead of recursing further.
inline constexpr int kMaxJsonDepth = 64;

nlohmann::json to_json(const msgpack::object& o, int depth = 0);
std::vector<std::byte> to_msgpack(const nlohmann::json& j);

}  // namespace brook::cli
