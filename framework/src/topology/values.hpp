// Parsing and printing of the value types a topology file uses (durations, sizes, enums).
#pragma once

#include <brook/topology.hpp>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace brook::detail {

std::optional<RestartPolicy> parse_restart_policy(std::string_view s) noexcept;
std::optional<OnFull> parse_on_full(std::string_view s) noexcept;
std::optional<Delivery> parse_delivery(std::string_view s) noexcept;
std::optional<FsyncPolicy> parse_fsync(std::string_view s) noexcept;

// The largest unit that divides the value exactly, so "3000" ms prints as "3s".
std::string format_duration(std::chrono::milliseconds d);
std::string format_size(std::size_t bytes);

}  // namespace brook::detail
