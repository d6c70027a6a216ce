#include "tracing/tracer.hpp"

#include <unistd.h>

#include <brook/error.hpp>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

namespace brook::detail {

Sampler::Sampler(double sample) noexcept {
  if (sample >= 1) {
    all_ = true;
  } else if (sample > 0) {
    threshold_ = static_cast<std::uint64_t>(std::ldexp(sample, 64));
  }
}

bool Sampler::sampled(const TraceId& trace) const noexcept {
  if (all_) return true;
  std::uint64_t v = 0;
  std::memcpy(&v, trace.data(), sizeof v);
  return v < threshold_;
}

Tracer::Tracer(const TracingSpec& spec, SpanResource resource)
    : sampler_(spec.sample), resource_(std::move(resource)) {
  if (!spec.spans.empty()) {
    // Opened with the first span: a tool that never records one leaves no file behind.
    std::error_code ec;
    std::filesystem::create_directories(spec.spans, ec);
    if (ec || ::access(spec.spans.c_str(), W_OK) != 0) {
      throw ConfigError(
          spec.where.str() + ": tracing.spans: cannot write to " + spec.spans.string() + ": " +
          (ec ? ec.message() : std::string(std::strerror(errno))) + " (name a writable directory)");
    }
    path_ = spec.spans / (resource_.node + "." + std::to_string(resource_.instance) + ".jsonl");
  }
  if (!spec.otlp.empty()) {
    std::string why;
    otlp_ = parse_http_url(spec.otlp, why);
    otlp_text_ = spec.otlp;
  }
  queue_.reserve(kBatch);
  thread_ = std::thread([this] { run(); });
}

Tracer::~Tracer() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
  if (file_ != nullptr) std::fclose(file_);
}

void Tracer::record(SpanRecord&& span) {
  std::lock_guard lock(mutex_);
  if (queue_.size() >= kQueueLimit) {
    ++dropped_;
    return;
  }
  queue_.push_back(std::move(span));
  if (queue_.size() == kQueueLimit / 2) wake_.notify_one();
}

std::uint64_t Tracer::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

void Tracer::flush() {
  std::unique_lock lock(mutex_);
  flush_requested_ = true;
  wake_.notify_one();
  // Everything queued now is in the next batch the thread takes (or is being exported).
  const std::uint64_t target = taken_ + 1;
  flushed_.wait(lock, [&] { return exported_ >= target || stop_; });
}

void Tracer::run() {
  std::vector<SpanRecord> batch;
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait_for(lock, std::chrono::milliseconds(100),
                   [&] { return stop_ || flush_requested_ || queue_.size() >= kQueueLimit / 2; });
    batch.swap(queue_);
    flush_requested_ = false;
    ++taken_;
    const bool stopping = stop_;
    lock.unlock();
    if (!batch.empty()) export_batch(batch);
    batch.clear();
    lock.lock();
    ++exported_;
    flushed_.notify_all();
    if (stopping && queue_.empty()) return;
  }
}

void Tracer::export_batch(std::vector<SpanRecord>& batch) {
  if (file_ == nullptr && !path_.empty()) {
    file_ = std::fopen(path_.c_str(), "ae");
    if (file_ == nullptr) {
      std::uint64_t suppressed = 0;
      if (export_log_.allow(suppressed)) {
        BROOK_LOG(kWarn) << "tracing: cannot open " << path_.string() << ": "
                         << std::strerror(errno) << "; spans dropped";
      }
    }
  }
  if (file_ != nullptr) {
    std::string text;
    for (const SpanRecord& s : batch)
      append_span_json(text, s, resource_);
    // One write per batch, flushed: `brook trace` reads the file while the node runs.
    if (std::fwrite(text.data(), 1, text.size(), file_) != text.size() || std::fflush(file_) != 0) {
      std::uint64_t suppressed = 0;
      if (export_log_.allow(suppressed)) {
        BROOK_LOG(kWarn) << "tracing: cannot write " << path_.string() << ": "
                         << std::strerror(errno);
      }
    }
  }
  if (!otlp_) return;
  for (std::size_t at = 0; at < batch.size(); at += kBatch) {
    const std::size_t n = std::min(kBatch, batch.size() - at);
    const std::string body = otlp_json(std::span(batch).subspan(at, n), resource_);
    std::string error;
    const int status = http_post_json(*otlp_, body, std::chrono::seconds(2), error);
    if (status >= 200 && status < 300) continue;
    {
      std::lock_guard lock(mutex_);
      dropped_ += n;
    }
    std::uint64_t suppressed = 0;
    if (export_log_.allow(suppressed)) {
      BROOK_LOG(kWarn) << "tracing: posting " << n << " spans to " << otlp_text_ << " failed: "
                       << (status == 0 ? error : "HTTP status " + std::to_string(status))
                       << "; dropped (check tracing.otlp and that the collector runs)";
    }
  }
}

}  // namespace brook::detail
