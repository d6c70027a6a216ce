// A node's tracing (docs/monitoring.md, "Tracing"): the sampling decision for the traces it
// starts, and a background thread that writes the spans it records to the instance's span file
// and/or posts them to an OTLP/HTTP collector. The handler thread only appends to a bounded
// queue under a mutex (full: the span is dropped and counted), so a slow disk or collector never
// slows handling; the thread wakes every 100 ms or when the queue is half full.
#pragma once

#include <brook/envelope.hpp>
#include <brook/log.hpp>
#include <brook/topology.hpp>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "tracing/http_post.hpp"
#include "tracing/span.hpp"

namespace brook::detail {

// The root decision: the trace id's first 8 bytes (random) as a fraction of 2^64 below
// `sample`. Deterministic per trace id, so any process deciding for the same id agrees.
class Sampler {
 public:
  explicit Sampler(double sample) noexcept;
  bool sampled(const TraceId& trace) const noexcept;
  bool off() const noexcept { return !all_ && threshold_ == 0; }

 private:
  bool all_ = false;
  std::uint64_t threshold_ = 0;
};

class Tracer {
 public:
  static constexpr std::size_t kQueueLimit = 8192;
  static constexpr std::size_t kBatch = 512;  // spans per OTLP request

  // Opens the span file (creating the directory) and starts the thread; throws ConfigError
  // naming tracing.spans when the file cannot be opened.
  Tracer(const TracingSpec& spec, SpanResource resource);
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  const Sampler& sampler() const noexcept { return sampler_; }
  // Never blocks on I/O.
  void record(SpanRecord&& span);
  // Spans not exported: queue full, or the collector failed.
  std::uint64_t dropped() const;
  // Writes and posts everything queued so far before returning (tests, shutdown).
  void flush();
  const std::filesystem::path& file() const noexcept { return path_; }

 private:
  void run();
  void export_batch(std::vector<SpanRecord>& batch);

  Sampler sampler_;
  SpanResource resource_;
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
  std::optional<HttpUrl> otlp_;
  std::string otlp_text_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable flushed_;
  std::vector<SpanRecord> queue_;
  std::uint64_t dropped_ = 0;
  std::uint64_t taken_ = 0;     // batches taken by the thread
  std::uint64_t exported_ = 0;  // batches done
  bool stop_ = false;
  bool flush_requested_ = false;
  LogRateLimiter export_log_{std::chrono::seconds(10)};
  std::thread thread_;
};

}  // namespace brook::detail
