// Durations, sizes and the enum spellings used in topology files.
#include "topology/values.hpp"

#include <charconv>
#include <cstdint>
#include <limits>
#include <utility>

namespace brook {

namespace {

// Strict decimal: digits only, no sign, no spaces; the unit is what follows the digits.
std::optional<std::pair<std::uint64_t, std::string_view>> split_number(std::string_view s) {
  std::size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9')
    ++digits;
  if (digits == 0) return std::nullopt;
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + digits, value);
  if (ec != std::errc{} || ptr != s.data() + digits) return std::nullopt;
  return std::make_pair(value, s.substr(digits));
}

std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t limit) {
  if (b != 0 && a > limit / b) return std::nullopt;
  return a * b;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view s) noexcept {
  auto parts = split_number(s);
  if (!parts) return std::nullopt;
  const auto [value, unit] = *parts;
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60 * 1000;
  } else if (unit == "h") {
    scale = 60 * 60 * 1000;
  } else {
    return std::nullopt;
  }
  constexpr auto kMax =
      static_cast<std::uint64_t>(std::numeric_limits<std::chrono::milliseconds::rep>::max());
  auto ms = checked_mul(value, scale, kMax);
  if (!ms) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(*ms));
}

std::optional<std::size_t> parse_size(std::string_view s) noexcept {
  struct Unit {
    std::string_view suffix;
    std::uint64_t scale;
  };
  // K/M/G follow the SI (1000) convention and Ki/Mi/Gi the binary one, as Kubernetes does; the
  // trailing B is optional.
  static constexpr Unit kUnits[] = {
      {"", 1},
      {"B", 1},
      {"K", 1000},
      {"KB", 1000},
      {"M", 1000 * 1000},
      {"MB", 1000 * 1000},
      {"G", 1000 * 1000 * 1000},
      {"GB", 1000 * 1000 * 1000},
      {"Ki", 1024},
      {"KiB", 1024},
      {"Mi", 1024 * 1024},
      {"MiB", 1024 * 1024},
      {"Gi", 1024 * 1024 * 1024},
      {"GiB", 1024 * 1024 * 1024},
  };
  auto parts = split_number(s);
  if (!parts) return std::nullopt;
  const auto [value, unit] = *parts;
  for (const auto& u : kUnits) {
    if (u.suffix != unit) continue;
    auto bytes = checked_mul(value, u.scale, std::numeric_limits<std::size_t>::max());
    if (!bytes) return std::nullopt;
    return static_cast<std::size_t>(*bytes);
  }
  return std::nullopt;
}

std::string_view to_string(Pattern p) noexcept {
  switch (p) {
    case Pattern::kPipeline:
      return "pipeline";
    case Pattern::kPubsub:
      return "pubsub";
    case Pattern::kRequest:
      return "request";
  }
  return "?";
}

std::optional<Pattern> parse_pattern(std::string_view s) noexcept {
  if (s == "pipeline") return Pattern::kPipeline;
  if (s == "pubsub") return Pattern::kPubsub;
  if (s == "request") return Pattern::kRequest;
  return std::nullopt;
}

std::string_view to_string(RestartPolicy p) noexcept {
  switch (p) {
    case RestartPolicy::kNever:
      return "never";
    case RestartPolicy::kOnFailure:
      return "on-failure";
    case RestartPolicy::kAlways:
      return "always";
  }
  return "?";
}

std::string_view to_string(OnFull p) noexcept {
  switch (p) {
    case OnFull::kBlock:
      return "block";
    case OnFull::kDrop:
      return "drop";
    case OnFull::kFail:
      return "fail";
  }
  return "?";
}

// Declared in brook/topology.hpp: public, like the other to_string overloads.
std::string_view to_string(Delivery d) noexcept {
  return d == Delivery::kAtLeastOnce ? "at-least-once" : "best-effort";
}

std::string_view to_string(FsyncPolicy f) noexcept {
  switch (f) {
    case FsyncPolicy::kAlways:
      return "always";
    case FsyncPolicy::kBatch:
      return "batch";
    case FsyncPolicy::kNever:
      return "never";
  }
  return "batch";
}

namespace detail {

std::optional<RestartPolicy> parse_restart_policy(std::string_view s) noexcept {
  if (s == "never") return RestartPolicy::kNever;
  if (s == "on-failure") return RestartPolicy::kOnFailure;
  if (s == "always") return RestartPolicy::kAlways;
  return std::nullopt;
}

std::optional<Delivery> parse_delivery(std::string_view s) noexcept {
  if (s == "at-least-once") return Delivery::kAtLeastOnce;
  if (s == "best-effort") return Delivery::kBestEffort;
  return std::nullopt;
}

std::optional<FsyncPolicy> parse_fsync(std::string_view s) noexcept {
  if (s == "always") return FsyncPolicy::kAlways;
  if (s == "batch") return FsyncPolicy::kBatch;
  if (s == "never") return FsyncPolicy::kNever;
  return std::nullopt;
}

std::optional<OnFull> parse_on_full(std::string_view s) noexcept {
  if (s == "block") return OnFull::kBlock;
  if (s == "drop") return OnFull::kDrop;
  if (s == "fail") return OnFull::kFail;
  return std::nullopt;
}

std::string format_duration(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms != 0 && ms % (60 * 60 * 1000) == 0) return std::to_string(ms / (60 * 60 * 1000)) + "h";
  if (ms != 0 && ms % (60 * 1000) == 0) return std::to_string(ms / (60 * 1000)) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string format_size(std::size_t bytes) {
  constexpr std::size_t kKi = 1024;
  if (bytes != 0 && bytes % (kKi * kKi * kKi) == 0) {
    return std::to_string(bytes / (kKi * kKi * kKi)) + "GiB";
  }
  if (bytes != 0 && bytes % (kKi * kKi) == 0) return std::to_string(bytes / (kKi * kKi)) + "MiB";
  if (bytes != 0 && bytes % kKi == 0) return std::to_string(bytes / kKi) + "KiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace detail
}  // namespace brook
