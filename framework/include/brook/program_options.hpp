// A node program's own command-line options, beside the ones every node takes (--topology,
// --node, --instance, ...). Declare them before the Node is built; read them with
// Node::option<T>(). --help lists them under their caption.
//
//   brook::ProgramOptions own("client options");
//   own.add<std::uint64_t>("baskets", "baskets to send").add<bool>("dry-run", "plan only");
//   brook::Node node(argc, argv, own);
//   const auto baskets = node.option<std::uint64_t>("baskets").value_or(1000);
//
// Values are checked while the command line is parsed: `--baskets ten` is a usage error that
// names the option and the expected form, before the node starts.
#pragma once

#include <brook/error.hpp>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace brook {

enum class OptionType {
  kFlag,      // --name, no value: bool
  kString,    // std::string
  kInteger,   // signed integer types
  kUnsigned,  // unsigned integer types: a '-' is refused
  kNumber,    // double, float
  kDuration,  // std::chrono::milliseconds: "250ms", "2s", "1m" or a bare number of ms
};

std::string_view to_string(OptionType t) noexcept;

namespace detail {
template <class T>
constexpr std::optional<OptionType> option_type_of() {
  if constexpr (std::is_same_v<T, bool>) {
    return OptionType::kFlag;
  } else if constexpr (std::is_same_v<T, std::string>) {
    return OptionType::kString;
  } else if constexpr (std::is_same_v<T, std::chrono::milliseconds>) {
    return OptionType::kDuration;
  } else if constexpr (std::is_floating_point_v<T>) {
    return OptionType::kNumber;
  } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    return OptionType::kInteger;
  } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
    return OptionType::kUnsigned;
  } else {
    return std::nullopt;
  }
}
}  // namespace detail

// Types an option can have: bool (a flag), std::string, integers, double/float, milliseconds.
template <class T>
concept OptionValue = (detail::option_type_of<T>().has_value());

class ProgramOptions {
 public:
  struct Option {
    std::string name;  // without the leading "--"
    std::string help;
    OptionType type = OptionType::kString;
  };

  explicit ProgramOptions(std::string caption = "Program options") : caption_(std::move(caption)) {}

  // Declares --name (a flag for bool, --name VALUE otherwise). Throws UsageError for a name that
  // is empty, has a space or '=', or is declared twice.
  template <OptionValue T>
  ProgramOptions& add(std::string name, std::string help) {
    return add(std::move(name), std::move(help), *detail::option_type_of<T>());
  }
  ProgramOptions& add(std::string name, std::string help, OptionType type);

  const std::string& caption() const noexcept { return caption_; }
  const std::vector<Option>& options() const noexcept { return options_; }
  const Option* find(std::string_view name) const noexcept;

 private:
  std::string caption_;
  std::vector<Option> options_;
};

// The program options given on a command line, checked against their declared types.
class OptionValues {
 public:
  // The value of --name, or nullopt when it was not given (a flag: true when given). Throws
  // UsageError when T is not the type the option was declared with, or the value does not fit T.
  template <OptionValue T>
  std::optional<T> get(std::string_view name) const;

  // Used by the command-line parser: the options declared, then each one given, its `text`
  // checked against its type.
  void declare(const ProgramOptions& options);
  void set(const ProgramOptions::Option& option, std::string text);
  bool has(std::string_view name) const;

 private:
  struct Value {
    OptionType type;
    std::string text;
  };
  // The value given for `name`, or nullptr; throws UsageError for an option that was not
  // declared, or declared with a type other than `wanted`.
  const Value* given(std::string_view name, OptionType wanted) const;
  static std::int64_t to_integer(std::string_view name, const std::string& text);
  static std::uint64_t to_unsigned(std::string_view name, const std::string& text);
  static double to_number(const std::string& text);
  static std::chrono::milliseconds to_duration(const std::string& text);
  [[noreturn]] static void out_of_range(std::string_view name, const std::string& text);

  std::map<std::string, OptionType, std::less<>> declared_;
  std::map<std::string, Value, std::less<>> values_;
};

// Checks `text` as a value of `type`; returns what is wrong ("expected a number") or nullopt.
std::optional<std::string> check_option_value(OptionType type, std::string_view text);

template <OptionValue T>
std::optional<T> OptionValues::get(std::string_view name) const {
  constexpr OptionType kType = *detail::option_type_of<T>();
  const Value* v = given(name, kType);
  if (v == nullptr) return std::nullopt;
  if constexpr (kType == OptionType::kFlag) {
    return true;
  } else if constexpr (kType == OptionType::kString) {
    return v->text;
  } else if constexpr (kType == OptionType::kDuration) {
    return to_duration(v->text);
  } else if constexpr (kType == OptionType::kNumber) {
    return static_cast<T>(to_number(v->text));
  } else if constexpr (kType == OptionType::kInteger) {
    const std::int64_t x = to_integer(name, v->text);
    if (x < std::numeric_limits<T>::min() || x > std::numeric_limits<T>::max()) {
      out_of_range(name, v->text);
    }
    return static_cast<T>(x);
  } else {
    const std::uint64_t x = to_unsigned(name, v->text);
    if (x > std::numeric_limits<T>::max()) out_of_range(name, v->text);
    return static_cast<T>(x);
  }
}

}  // namespace brook
