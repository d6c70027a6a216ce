#include <algorithm>
#include <brook/counters.hpp>

namespace brook {

bool valid_user_metric_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > kMaxUserMetricName) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

bool ChannelCounters::set(std::string_view name, std::uint64_t value) {
  for (const auto& f : kChannelCounterFields) {
    if (f.name == name) {
      this->*f.member = value;
      return true;
    }
  }
  return false;
}

ChannelCounters& ChannelCounters::operator+=(const ChannelCounters& o) {
  for (const auto& f : kChannelCounterFields)
    this->*f.member += o.*f.member;
  latency += o.latency;
  return *this;
}

ChannelCounters NodeCounters::total() const {
  ChannelCounters t;
  for (const auto& [name, c] : channels)
    t += c;
  return t;
}

}  // namespace brook
