// Identifiers: incarnation and epoch ids (random, unique per process start) and trace ids.
#pragma once

#include <brook/envelope.hpp>
#include <cstdint>
#include <string>

namespace brook {

// 16 lowercase hex digits from the OS random source. Thread-safe.
std::string random_id();

// Wall-clock time in nanoseconds since the Unix epoch (CLOCK_REALTIME), for created_ns.
std::int64_t wall_clock_ns() noexcept;

// Fast non-cryptographic generator for trace and span ids, seeded from the OS. One per thread.
class TraceIdGenerator {
 public:
  TraceIdGenerator();
  TraceId next() noexcept;
  // A span id, never all zero (W3C: zero means none).
  SpanId next_span() noexcept;

 private:
  std::uint64_t state_;
};

}  // namespace brook
