#include "wire/object_reader.hpp"

#include <algorithm>

namespace brook::detail {

namespace {
std::string_view type_name(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::NIL:
      return "nil";
    case msgpack::type::BOOLEAN:
      return "bool";
    case msgpack::type::POSITIVE_INTEGER:
      return "unsigned integer";
    case msgpack::type::NEGATIVE_INTEGER:
      return "negative integer";
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return "float";
    case msgpack::type::STR:
      return "string";
    case msgpack::type::BIN:
      return "binary";
    case msgpack::type::ARRAY:
      return "array";
    case msgpack::type::MAP:
      return "map";
    case msgpack::type::EXT:
      return "ext";
  }
  return "unknown";
}
}  // namespace

ObjectReader::ObjectReader(const msgpack::object& map, std::string path) : path_(std::move(path)) {
  if (map.type != msgpack::type::MAP) {
    error_ = (path_.empty() ? std::string("message") : path_) + ": expected a map, got " +
             std::string(type_name(map));
    return;
  }
  map_ = &map;
}

void ObjectReader::fail(std::string_view field, std::string_view what) {
  if (!error_.empty()) return;
  error_ = child(field) + ": " + std::string(what);
}

void ObjectReader::fail_nested(std::string error) {
  if (error_.empty()) error_ = std::move(error);
}

std::string ObjectReader::child(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

std::string ObjectReader::child(std::string_view key, std::size_t i) const {
  return child(key) + "[" + std::to_string(i) + "]";
}

const msgpack::object* ObjectReader::find(std::string_view key) const noexcept {
  if (map_ == nullptr) return nullptr;
  const auto& m = map_->via.map;
  for (std::uint32_t i = 0; i < m.size; ++i) {
    const auto& k = m.ptr[i].key;
    if (k.type == msgpack::type::STR && std::string_view(k.via.str.ptr, k.via.str.size) == key) {
      return &m.ptr[i].val;
    }
  }
  return nullptr;
}

bool ObjectReader::str(std::string_view key, std::string& out, std::size_t max_len, bool required) {
  if (map_ == nullptr) return false;
  const auto* o = find(key);
  if (o == nullptr) {
    if (required) fail(key, "missing");
    return !required;
  }
  if (o->type != msgpack::type::STR) {
    fail(key, "expected a string, got " + std::string(type_name(*o)));
    return false;
  }
  if (o->via.str.size > max_len) {
    fail(key, "longer than " + std::to_string(max_len) + " bytes");
    return false;
  }
  out.assign(o->via.str.ptr, o->via.str.size);
  return true;
}

bool ObjectReader::uint(std::string_view key, std::uint64_t& out, bool required) {
  if (map_ == nullptr) return false;
  const auto* o = find(key);
  if (o == nullptr) {
    if (required) fail(key, "missing");
    return !required;
  }
  if (o->type != msgpack::type::POSITIVE_INTEGER) {
    fail(key, "expected an unsigned integer, got " + std::string(type_name(*o)));
    return false;
  }
  out = o->via.u64;
  return true;
}

bool ObjectReader::uint32(std::string_view key, std::uint32_t& out, bool required) {
  std::uint64_t v = out;
  if (!uint(key, v, required)) return false;
  if (v > UINT32_MAX) {
    fail(key, "larger than 2^32-1");
    return false;
  }
  out = static_cast<std::uint32_t>(v);
  return true;
}

bool ObjectReader::boolean(std::string_view key, bool& out, bool required) {
  if (map_ == nullptr) return false;
  const auto* o = find(key);
  if (o == nullptr) {
    if (required) fail(key, "missing");
    return !required;
  }
  if (o->type != msgpack::type::BOOLEAN) {
    fail(key, "expected a bool, got " + std::string(type_name(*o)));
    return false;
  }
  out = o->via.boolean;
  return true;
}

const msgpack::object_array* ObjectReader::array(std::string_view key, std::size_t max_len,
                                                 bool required) {
  if (map_ == nullptr) return nullptr;
  const auto* o = find(key);
  if (o == nullptr) {
    if (required) fail(key, "missing");
    return nullptr;
  }
  if (o->type != msgpack::type::ARRAY) {
    fail(key, "expected an array, got " + std::string(type_name(*o)));
    return nullptr;
  }
  if (o->via.array.size > max_len) {
    fail(key, "more than " + std::to_string(max_len) + " elements");
    return nullptr;
  }
  return &o->via.array;
}

const msgpack::object_map* ObjectReader::map(std::string_view key, std::size_t max_len,
                                             bool required) {
  if (map_ == nullptr) return nullptr;
  const auto* o = find(key);
  if (o == nullptr) {
    if (required) fail(key, "missing");
    return nullptr;
  }
  if (o->type != msgpack::type::MAP) {
    fail(key, "expected a map, got " + std::string(type_name(*o)));
    return nullptr;
  }
  if (o->via.map.size > max_len) {
    fail(key, "more than " + std::to_string(max_len) + " entries");
    return nullptr;
  }
  return &o->via.map;
}

bool unpack_control_frame(std::string_view frame, msgpack::object_handle& out, std::string& why) {
  if (frame.empty()) {
    why = "empty frame";
    return false;
  }
  // Control messages are small: cap counts by the frame size and nesting at 16.
  const std::size_t n = std::min<std::size_t>(frame.size(), 100000);
  const msgpack::unpack_limit limit(n, n / 2 + 1, frame.size(), frame.size(), frame.size(), 16);
  try {
    std::size_t off = 0;
    out = msgpack::unpack(frame.data(), frame.size(), off, nullptr, nullptr, limit);
    if (off != frame.size()) {
      why = "trailing bytes after the message at byte " + std::to_string(off);
      return false;
    }
    return true;
  } catch (const msgpack::insufficient_bytes&) {
    why = "truncated msgpack";
  } catch (const msgpack::size_overflow&) {
    why = "msgpack value exceeds size or nesting limits";
  } catch (const std::exception& e) {
    why = std::string("malformed msgpack: ") + e.what();
  }
  return false;
}

}  // namespace brook::detail
