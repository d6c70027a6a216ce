// ProgramOptions and OptionValues: a node program's own command-line options, typed.
#include <brook/program_options.hpp>
#include <brook/topology.hpp>
#include <cerrno>
#include <charconv>
#include <cstdlib>

namespace brook {

namespace {

bool valid_name(std::string_view name) {
  if (name.empty() || name.front() == '-') return false;
  for (char c : name) {
    if (c == ' ' || c == '=' || c == ',' || static_cast<unsigned char>(c) < 0x21) return false;
  }
  return true;
}

std::string_view expected(OptionType t) {
  switch (t) {
    case OptionType::kFlag:
      return "no value";
    case OptionType::kString:
      return "a string";
    case OptionType::kInteger:
      return "an integer";
    case OptionType::kUnsigned:
      return "a non-negative integer";
    case OptionType::kNumber:
      return "a number";
    case OptionType::kDuration:
      return "a duration like 250ms or 2s";
  }
  return "a value";
}

template <class I>
std::optional<I> parse_int(std::string_view text) {
  I v{};
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end) return std::nullopt;
  return v;
}

std::optional<double> parse_number(const std::string& text) {
  if (text.empty() || text.front() == ' ') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE) return std::nullopt;
  return v;
}

}  // namespace

std::string_view to_string(OptionType t) noexcept {
  switch (t) {
    case OptionType::kFlag:
      return "flag";
    case OptionType::kString:
      return "string";
    case OptionType::kInteger:
      return "integer";
    case OptionType::kUnsigned:
      return "unsigned integer";
    case OptionType::kNumber:
      return "number";
    case OptionType::kDuration:
      return "duration";
  }
  return "?";
}

ProgramOptions& ProgramOptions::add(std::string name, std::string help, OptionType type) {
  if (!valid_name(name)) {
    throw UsageError("program option '" + name +
                     "': a name is a non-empty word without spaces, '=' or a leading '-'");
  }
  if (find(name) != nullptr) throw UsageError("program option '--" + name + "' declared twice");
  options_.push_back(Option{std::move(name), std::move(help), type});
  return *this;
}

const ProgramOptions::Option* ProgramOptions::find(std::string_view name) const noexcept {
  for (const auto& o : options_) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

std::optional<std::string> check_option_value(OptionType type, std::string_view text) {
  bool ok = true;
  switch (type) {
    case OptionType::kFlag:
    case OptionType::kString:
      break;
    case OptionType::kInteger:
      ok = parse_int<std::int64_t>(text).has_value();
      break;
    case OptionType::kUnsigned:
      ok = !text.starts_with('-') && parse_int<std::uint64_t>(text).has_value();
      break;
    case OptionType::kNumber:
      ok = parse_number(std::string(text)).has_value();
      break;
    case OptionType::kDuration:
      ok = parse_duration(text).has_value();
      break;
  }
  if (ok) return std::nullopt;
  return "expected " + std::string(expected(type)) + ", got '" + std::string(text) + "'";
}

void OptionValues::declare(const ProgramOptions& options) {
  for (const auto& o : options.options())
    declared_[o.name] = o.type;
}

void OptionValues::set(const ProgramOptions::Option& option, std::string text) {
  declared_[option.name] = option.type;
  values_[option.name] = Value{option.type, std::move(text)};
}

bool OptionValues::has(std::string_view name) const {
  return values_.find(name) != values_.end();
}

const OptionValues::Value* OptionValues::given(std::string_view name, OptionType wanted) const {
  const auto d = declared_.find(name);
  if (d == declared_.end()) {
    throw UsageError("--" + std::string(name) +
                     " is not one of this program's options; declare it with "
                     "ProgramOptions::add and pass those to the Node");
  }
  if (d->second != wanted) {
    throw UsageError("--" + std::string(name) + " is declared as " +
                     std::string(to_string(d->second)) + " but read as " +
                     std::string(to_string(wanted)) +
                     "; read it with the type it was declared with");
  }
  const auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

std::int64_t OptionValues::to_integer(std::string_view name, const std::string& text) {
  if (auto v = parse_int<std::int64_t>(text)) return *v;
  out_of_range(name, text);
}

std::uint64_t OptionValues::to_unsigned(std::string_view name, const std::string& text) {
  if (auto v = parse_int<std::uint64_t>(text)) return *v;
  out_of_range(name, text);
}

double OptionValues::to_number(const std::string& text) {
  return parse_number(text).value_or(0);
}

std::chrono::milliseconds OptionValues::to_duration(const std::string& text) {
  return parse_duration(text).value_or(std::chrono::milliseconds(0));
}

void OptionValues::out_of_range(std::string_view name, const std::string& text) {
  throw UsageError("--" + std::string(name) + ": " + text +
                   " is out of range for the type the program reads it as");
}

}  // namespace brook
