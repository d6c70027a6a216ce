#include <brook/counters.hpp>

namespace brook {

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
  for (const auto& f : kChannelCounterFields) this->*f.member += o.*f.member;
  return *this;
}

ChannelCounters NodeCounters::total() const {
  ChannelCounters t;
  for (const auto& [name, c] : channels) t += c;
  return t;
}

}  // namespace brook
