// Counters a node keeps per channel, and the counters and gauges its author declares
// (Node::counter, Node::gauge); all are reported with each directory heartbeat.
//
// They are plain integers owned by the node's event loop thread: read them from handlers and
// timers (same thread) or from the directory (`brook stats`), not from other threads.
#pragma once

#include <array>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace brook {

namespace detail {
class NodeEngine;
}  // namespace detail

// How long a channel's handler calls took, in fixed power-of-two buckets of microseconds:
// bucket i counts calls of at most 2^i µs (and more than 2^(i-1) µs), the last one everything
// above 2^(kBuckets-2) µs (8.4 s). Recording is a bit_width and two adds: no allocation, no
// look-up, cheap enough for every message. Sent with the heartbeats (docs/directory.md).
struct LatencyHistogram {
  static constexpr std::size_t kBuckets = 25;
  std::array<std::uint64_t, kBuckets> counts{};
  std::uint64_t sum_ns = 0;

  // The upper bound of bucket i in microseconds (i < kBuckets - 1; the last has none).
  static constexpr std::uint64_t bound_us(std::size_t i) noexcept { return std::uint64_t{1} << i; }
  static constexpr std::size_t bucket_of(std::uint64_t ns) noexcept {
    const std::uint64_t us = ns / 1000 + (ns % 1000 != 0 ? 1 : 0);  // rounded up
    const std::size_t b = us <= 1 ? 0 : static_cast<std::size_t>(std::bit_width(us - 1));
    return b < kBuckets ? b : kBuckets - 1;
  }
  void record(std::chrono::nanoseconds d) noexcept {
    const auto ns = static_cast<std::uint64_t>(d.count() > 0 ? d.count() : 0);
    ++counts[bucket_of(ns)];
    sum_ns += ns;
  }
  std::uint64_t count() const noexcept {
    std::uint64_t n = 0;
    for (const auto c : counts)
      n += c;
    return n;
  }
  LatencyHistogram& operator+=(const LatencyHistogram& o) noexcept {
    for (std::size_t i = 0; i < kBuckets; ++i)
      counts[i] += o.counts[i];
    sum_ns += o.sum_ns;
    return *this;
  }
};

struct ChannelCounters {
  std::uint64_t received = 0;        // envelopes decoded and handed to a handler
  std::uint64_t emitted = 0;         // messages accepted by emit() on this channel
  std::uint64_t sent = 0;            // frames handed to ZeroMQ (one per consumer group)
  std::uint64_t decode_errors = 0;   // frames rejected by the envelope or payload decoder, or of
                                     // a type the typed handler does not take
  std::uint64_t handler_errors = 0;  // handler calls that threw
  std::uint64_t dropped = 0;         // messages discarded by policy (on_full: drop, taps)
  std::uint64_t backpressure = 0;    // emits that found a full queue (blocked, failed or dropped)
  std::uint64_t pending = 0;         // gauge: messages held for consumers right now
  std::uint64_t in_flight = 0;       // gauge: at-least-once messages sent, not yet acknowledged
  std::uint64_t redelivered = 0;     // at-least-once re-sends (replica gone, or no ack in time)
  std::uint64_t duplicates = 0;      // received again and not handled again (de-duplicated)
  std::uint64_t gaps = 0;            // pubsub: messages a publisher sent that never arrived
  std::uint64_t retried = 0;         // handler calls repeated after an exception
  std::uint64_t dead_lettered = 0;   // messages sent to the dead-letter channel
  std::uint64_t refused = 0;         // connections to this input refused (security: curve)
  std::uint64_t forged = 0;          // envelopes dropped: under CURVE, their producer is not
                                     // of the node whose key the connection proved
  std::uint64_t accept_failed = 0;   // accept() calls on this input's socket that failed (out
                                     // of file descriptors: the input stops listening a while)
  std::uint64_t declined = 0;        // at-least-once messages a handler declined (brook::Declined):
                                     // left unacknowledged with their producer, re-sent later
  std::uint64_t misrouted = 0;       // at-least-once envelopes naming another channel (a producer
                                     // with a stale address): left with it, told to stop sending
  std::uint64_t handled = 0;         // handler calls that returned (neither threw nor declined)
  std::uint64_t lag_ms = 0;          // gauge, at-least-once producers: age of the oldest message
                                     // not yet acknowledged (0: none), as of the last heartbeat
  // Handler call durations (inputs); not one of kChannelCounterFields: sent as `latency`.
  LatencyHistogram latency;

  // Visits (name, value) for each counter in kChannelCounterFields order (the wire names).
  template <class F>
  void for_each(F&& fn) const;
  // Sets the counter with this wire name; false if unknown (newer peers may send more).
  bool set(std::string_view name, std::uint64_t value);
  ChannelCounters& operator+=(const ChannelCounters& o);
};

struct CounterField {
  std::string_view name;
  std::uint64_t ChannelCounters::*member;
};

// The single list of counters: wire names and members. Adding a counter means adding it here.
inline constexpr std::array<CounterField, 21> kChannelCounterFields{{
    {"received", &ChannelCounters::received},
    {"emitted", &ChannelCounters::emitted},
    {"sent", &ChannelCounters::sent},
    {"decode_errors", &ChannelCounters::decode_errors},
    {"handler_errors", &ChannelCounters::handler_errors},
    {"dropped", &ChannelCounters::dropped},
    {"backpressure", &ChannelCounters::backpressure},
    {"pending", &ChannelCounters::pending},
    {"in_flight", &ChannelCounters::in_flight},
    {"redelivered", &ChannelCounters::redelivered},
    {"duplicates", &ChannelCounters::duplicates},
    {"gaps", &ChannelCounters::gaps},
    {"retried", &ChannelCounters::retried},
    {"dead_lettered", &ChannelCounters::dead_lettered},
    {"refused", &ChannelCounters::refused},
    {"forged", &ChannelCounters::forged},
    {"accept_failed", &ChannelCounters::accept_failed},
    {"declined", &ChannelCounters::declined},
    {"misrouted", &ChannelCounters::misrouted},
    {"handled", &ChannelCounters::handled},
    {"lag_ms", &ChannelCounters::lag_ms},
}};

template <class F>
void ChannelCounters::for_each(F&& fn) const {
  for (const auto& f : kChannelCounterFields)
    fn(f.name, this->*f.member);
}

// What a node may declare with Node::counter and Node::gauge, together, and how long a name may
// be. The directory refuses heartbeats beyond these (docs/directory.md, "Limits").
inline constexpr std::size_t kMaxUserMetrics = 256;
inline constexpr std::size_t kMaxUserMetricName = 64;

// Whether `name` may name a user counter or gauge: 1 to 64 characters of a-z, 0-9, '_', '.', '-'.
bool valid_user_metric_name(std::string_view name) noexcept;

struct NodeCounters {
  std::map<std::string, ChannelCounters, std::less<>> channels;
  std::uint64_t uptime_ms = 0;
  std::uint64_t loop_iterations = 0;
  // Declared by the node's author (Node::counter, Node::gauge), by name; no name is in both.
  std::map<std::string, std::uint64_t, std::less<>> user_counters;
  std::map<std::string, std::int64_t, std::less<>> user_gauges;

  ChannelCounters total() const;
};

// A counter the node's author declared (Node::counter): a handle on a value the node owns and
// reports with its heartbeats. Increments are a plain add through a pointer, cheap enough for
// every message. Loop thread only (like emit()); valid as long as the Node.
class Counter {
 public:
  void add(std::uint64_t n) noexcept { *value_ += n; }
  Counter& operator++() noexcept {
    ++*value_;
    return *this;
  }
  void operator++(int) noexcept { ++*value_; }
  std::uint64_t value() const noexcept { return *value_; }

 private:
  friend class detail::NodeEngine;
  explicit Counter(std::uint64_t* value) noexcept : value_(value) {}
  std::uint64_t* value_;
};

// A gauge the node's author declared (Node::gauge): a value that goes up and down (a queue's
// depth, a cache's size), reported as last set. Same rules as Counter.
class Gauge {
 public:
  void set(std::int64_t v) noexcept { *value_ = v; }
  // Wraps around on overflow instead of being undefined.
  void add(std::int64_t delta) noexcept {
    *value_ = static_cast<std::int64_t>(static_cast<std::uint64_t>(*value_) +
                                        static_cast<std::uint64_t>(delta));
  }
  std::int64_t value() const noexcept { return *value_; }

 private:
  friend class detail::NodeEngine;
  explicit Gauge(std::int64_t* value) noexcept : value_(value) {}
  std::int64_t* value_;
};

}  // namespace brook
