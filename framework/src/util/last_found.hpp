// The entry a string-keyed std::map gave last, so that looking the same key up again is one
// compare instead of a search with a string compare per level. A consumer hears from one
// producer at a time, in bursts: its per-producer records are looked up several times per
// message (admit, settle, release) with the same key.
//
// The owner calls forget() whenever it erases from the map (a std::map keeps every other node,
// and so the cached key and value, where they are).
#pragma once

#include <string_view>

namespace brook::detail {

template <class Map>
class LastFound {
 public:
  using Value = typename Map::mapped_type;

  Value* find(Map& map, std::string_view key) {
    if (value_ != nullptr && key == key_) return value_;
    const auto it = map.find(key);
    if (it == map.end()) return nullptr;
    key_ = it->first;
    value_ = &it->second;
    return value_;
  }
  // The entry for `key`, made (from `make()`) if there is none.
  template <class Make>
  Value& find_or_add(Map& map, std::string_view key, Make&& make) {
    if (Value* v = find(map, key)) return *v;
    const auto it = map.emplace(typename Map::key_type(key), make()).first;
    key_ = it->first;
    value_ = &it->second;
    return *value_;
  }
  void forget() noexcept { value_ = nullptr; }

 private:
  std::string_view key_;  // the cached node's own key
  Value* value_ = nullptr;
};

}  // namespace brook::detail
