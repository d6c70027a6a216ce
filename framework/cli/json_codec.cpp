#include "json_codec.hpp"

#include <brook/error.hpp>
#include <cmath>
#include <string>

namespace brook::cli {

namespace {

std::string hex(const char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    const auto b = static_cast<unsigned char>(data[i]);
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

nlohmann::json number(double d) {
  // JSON has no NaN or infinity; say what it was rather than printing null.
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return d;
}

}  // namespace

nlohmann::json to_json(const msgpack::object& o, int depth) {
  if (depth > kMaxJsonDepth) return "<too deep>";
  switch (o.type) {
    case msgpack::type::NIL:
      return nullptr;
    case msgpack::type::BOOLEAN:
      return o.via.boolean;
    case msgpack::type::POSITIVE_INTEGER:
      return o.via.u64;
    case msgpack::type::NEGATIVE_INTEGER:
      return o.via.i64;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return number(o.via.f64);
    case msgpack::type::STR:
      return std::string(o.via.str.ptr, o.via.str.size);
    case msgpack::type::BIN:
      return {{"$bin", hex(o.via.bin.ptr, o.via.bin.size)}};
    case msgpack::type::EXT:
      return {{"$ext", o.via.ext.type()}, {"data", hex(o.via.ext.data(), o.via.ext.size)}};
    case msgpack::type::ARRAY: {
      nlohmann::json a = nlohmann::json::array();
      for (std::uint32_t i = 0; i < o.via.array.size; ++i)
        a.push_back(to_json(o.via.array.ptr[i], depth + 1));
      return a;
    }
    case msgpack::type::MAP: {
      bool string_keys = true;
      for (std::uint32_t i = 0; i < o.via.map.size; ++i)
        string_keys = string_keys && o.via.map.ptr[i].key.type == msgpack::type::STR;
      if (string_keys) {
        nlohmann::json m = nlohmann::json::object();
        for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
          const auto& kv = o.via.map.ptr[i];
          m[std::string(kv.key.via.str.ptr, kv.key.via.str.size)] = to_json(kv.val, depth + 1);
        }
        return m;
      }
      nlohmann::json pairs = nlohmann::json::array();
      for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
        const auto& kv = o.via.map.ptr[i];
        pairs.push_back({to_json(kv.key, depth + 1), to_json(kv.val, depth + 1)});
      }
      return {{"$map", pairs}};
    }
  }
  return nullptr;
}

std::vector<std::byte> to_msgpack(const nlohmann::json& j) {
  const std::vector<std::uint8_t> bytes = nlohmann::json::to_msgpack(j);
  std::vector<std::byte> out(bytes.size());
  for (std::size_t i = 0; i < bytes.size(); ++i)
    out[i] = static_cast<std::byte>(bytes[i]);
  return out;
}

std::vector<std::byte> payload_from_json(std::string_view text) {
  if (text.size() > kMaxPayloadJsonSize) {
    throw UsageError("the payload is " + std::to_string(text.size()) +
                     " bytes of JSON, more than the limit of " +
                     std::to_string(kMaxPayloadJsonSize) + " bytes");
  }
  // The limit is checked while parsing: nlohmann parses without recursion, but packing and
  // printing the value recurse once per level.
  const auto limit_depth = [](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
    const bool opens = event == nlohmann::json::parse_event_t::object_start ||
                       event == nlohmann::json::parse_event_t::array_start;
    if (opens && static_cast<std::uint32_t>(depth) >= kMaxPayloadJsonDepth) {
      throw UsageError("the payload JSON nests arrays and objects more than " +
                       std::to_string(kMaxPayloadJsonDepth) +
                       " levels deep, deeper than receivers decode; flatten it");
    }
    return true;
  };
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(text, limit_depth);
  } catch (const nlohmann::json::exception& e) {
    // Not only parse_error: a number too large for a double ("1e999999") is out_of_range.
    throw UsageError(std::string("the payload is not valid JSON: ") + e.what());
  }
  return to_msgpack(value);
}

}  // namespace brook::cli
