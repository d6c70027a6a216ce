// The type name written in each envelope's `type` field.
//
// A type chooses its wire name with `static constexpr std::string_view kTypeName = "shop.Quote";`
// (recommended: stable across languages and refactors); otherwise the demangled C++ name is used.
#pragma once

#include <string>
#include <string_view>
#include <typeinfo>

namespace brook {

namespace detail {
std::string demangle(const char* mangled);
}  // namespace detail

template <class T>
std::string_view type_name() {
  if constexpr (requires { std::string_view(T::kTypeName); }) {
    return std::string_view(T::kTypeName);
  } else {
    static const std::string name = detail::demangle(typeid(T).name());
    return name;
  }
}

}  // namespace brook
