#include <time.h>

#include <brook/ids.hpp>
#include <cstring>
#include <random>

namespace brook {

std::string random_id() {
  thread_local std::random_device rd;
  const std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 0; i < 16; ++i)
    s[static_cast<std::size_t>(i)] = kDigits[(v >> (60 - 4 * i)) & 0xf];
  return s;
}

std::int64_t wall_clock_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

TraceIdGenerator::TraceIdGenerator() {
  std::random_device rd;
  state_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

namespace {
std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

TraceId TraceIdGenerator::next() noexcept {
  // Two outputs fill the 16 bytes.
  TraceId t;
  for (int half = 0; half < 2; ++half) {
    const std::uint64_t z = splitmix64(state_);
    std::memcpy(t.data() + 8 * half, &z, 8);
  }
  return t;
}

SpanId TraceIdGenerator::next_span() noexcept {
  std::uint64_t z = splitmix64(state_);
  if (z == 0) z = 1;
  SpanId s;
  std::memcpy(s.data(), &z, 8);
  return s;
}

}  // namespace brook
