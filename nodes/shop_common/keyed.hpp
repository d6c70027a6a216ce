// EmitOptions with just an ordering key. (A designated initializer `{.key = k}` trips
// -Wmissing-field-initializers under -Wextra.)
#pragma once

#include <brook/node.hpp>

#include <string_view>

namespace brook::shop {

inline EmitOptions keyed(std::string_view key) {
  EmitOptions o;
  o.key = key;
  return o;
}

}  // namespace brook::shop
