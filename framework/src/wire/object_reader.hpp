// Strict field access on a decoded msgpack map, for the control-plane protocols (directory,
// CLI JSON bridge). Each accessor records the first problem with the field's path, so a reply can
// say exactly what was wrong ("registrations[2].dir: expected 'in' or 'out'").
#pragma once

#include <cstdint>
#include <msgpack.hpp>
#include <string>
#include <string_view>

namespace brook::detail {

class ObjectReader {
 public:
  ObjectReader(const msgpack::object& map, std::string path);

  bool ok() const noexcept { return error_.empty(); }
  const std::string& error() const noexcept { return error_; }
  void fail(std::string_view field, std::string_view what);
  // Records an error already phrased with its full path (from a nested reader).
  void fail_nested(std::string error);

  const msgpack::object* find(std::string_view key) const noexcept;

  // Each returns false (and records an error) when the field is present with a wrong type or
  // out of bounds, or absent while required. An absent optional field leaves `out` unchanged.
  bool str(std::string_view key, std::string& out, std::size_t max_len, bool required = true);
  bool uint(std::string_view key, std::uint64_t& out, bool required = true);
  bool uint32(std::string_view key, std::uint32_t& out, bool required = true);
  bool boolean(std::string_view key, bool& out, bool required = true);
  // Array field: returns the array object (or nullptr after recording an error).
  const msgpack::object_array* array(std::string_view key, std::size_t max_len,
                                     bool required = true);
  const msgpack::object_map* map(std::string_view key, std::size_t max_len, bool required = true);

  std::string child(std::string_view key) const;                 // "path.key"
  std::string child(std::string_view key, std::size_t i) const;  // "path.key[i]"

 private:
  const msgpack::object* map_ = nullptr;
  std::string path_;
  std::string error_;
};

// Unpacks one frame under tight limits; false when it is not exactly one msgpack value.
bool unpack_control_frame(std::string_view frame, msgpack::object_handle& out, std::string& why);

}  // namespace brook::detail
