// What every benchmark stage program shares, whatever carries its messages (raw libzmq, brook,
// NATS, RabbitMQ): the payload, the envelope a hop decodes and re-encodes, the clock, and the
// result line a stage writes when it is done (read by bench/run.py).
//
// Stages of the shop-shaped pipeline: source (client) -> relay (basket) -> relay (product) ->
// two sinks (pricing, order), every sink getting every message. The one-hop shape is
// source -> sink.
#pragma once

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <msgpack.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bench {

// The user's value. `t_ns` is CLOCK_MONOTONIC (system-wide) when the source created it, so a
// sink in another process measures end-to-end latency.
struct BenchMsg {
  std::uint64_t seq = 0;
  std::int64_t t_ns = 0;
  std::string body;
  MSGPACK_DEFINE(seq, t_ns, body)
};

inline std::int64_t mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline std::int64_t cpu_ns() {  // this process, every thread, user + system
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& tv) {
    return static_cast<std::int64_t>(tv.tv_sec) * 1'000'000'000 + tv.tv_usec * 1000;
  };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

// Peak RSS of this program: VmHWM, not ru_maxrss, which execve() keeps from the parent (a
// stage started by a Python driver would report the interpreter's peak).
inline long max_rss_kib() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
  }
  std::fclose(f);
  return kib;
}

// The same envelope brook puts around a payload (docs/wire.md: an 11-element msgpack array), so
// the raw and broker baselines do the codec work brook does on every hop.
class EnvelopeCodec {
 public:
  explicit EnvelopeCodec(std::string producer, std::string channel)
      : producer_(std::move(producer)), channel_(std::move(channel)) {}

  // Encodes into a buffer reused across calls; valid until the next encode().
  std::string_view encode(std::uint64_t seq, const BenchMsg& m) {
    buf_.clear();
    payload_.clear();
    msgpack::pack(payload_, m);
    msgpack::packer<msgpack::sbuffer> p(buf_);
    p.pack_array(11);
    p.pack_uint32(1);
    p.pack(producer_);
    p.pack_uint64(seq);
    p.pack(channel_);
    p.pack(std::string_view("bench.Msg"));
    p.pack_nil();
    p.pack_int64(mono_ns());
    p.pack_uint32(1);
    p.pack_bin(16);
    p.pack_bin_body(trace_, 16);
    p.pack_map(0);
    p.pack_bin(static_cast<std::uint32_t>(payload_.size()));
    p.pack_bin_body(payload_.data(), payload_.size());
    return {buf_.data(), buf_.size()};
  }

  // Decodes an envelope and its payload; throws a std::exception (std::runtime_error, or
  // msgpack's own errors for a payload of the wrong shape) on anything malformed.
  static BenchMsg decode(const void* data, std::size_t size) {
    const msgpack::object_handle env = msgpack::unpack(static_cast<const char*>(data), size);
    const msgpack::object& o = env.get();
    if (o.type != msgpack::type::ARRAY || o.via.array.size != 11 ||
        o.via.array.ptr[10].type != msgpack::type::BIN) {
      throw std::runtime_error("not a brook envelope");
    }
    const auto& bin = o.via.array.ptr[10].via.bin;
    const msgpack::object_handle payload = msgpack::unpack(bin.ptr, bin.size);
    return payload.get().as<BenchMsg>();
  }

 private:
  std::string producer_;
  std::string channel_;
  char trace_[16] = {};
  msgpack::sbuffer buf_{256};
  msgpack::sbuffer payload_{256};
};

// Paces a source: how many messages are due now at `rate` per second (0 = unpaced). Every
// system's source sleeps 1 ms when nothing is due (brook's timers tick in milliseconds), so at
// a fixed rate each system sees the same small bursts.
class Pacer {
 public:
  explicit Pacer(std::uint64_t rate) : rate_(rate), start_(mono_ns()) {}
  std::uint64_t due(std::uint64_t sent) const {
    if (rate_ == 0) return sent + 1000;
    const auto elapsed = static_cast<std::uint64_t>(mono_ns() - start_);
    return elapsed / 1000 * rate_ / 1'000'000;
  }

 private:
  std::uint64_t rate_;
  std::int64_t start_;
};

// What a stage measured. CPU is counted from the first message to the last, so start-up work
// (connecting, discovery) is not charged to the messages.
class StageStats {
 public:
  void on_message(std::int64_t t_sent_ns) {
    const std::int64_t now = mono_ns();
    if (count_++ == 0) {
      first_ns_ = now;
      cpu_first_ = cpu_ns();
    }
    last_ns_ = now;
    if (t_sent_ns > 0 && record_latency_) latencies_.push_back(now - t_sent_ns);
  }
  void record_latency(bool on) { record_latency_ = on; }
  std::uint64_t count() const { return count_; }

  // One JSON object on one line, appended to `path` (stdout if empty).
  void write(const std::string& path, std::string_view system, std::string_view role,
             std::string_view name, std::uint64_t dropped = 0) {
    const std::int64_t cpu = count_ > 0 ? cpu_ns() - cpu_first_ : 0;
    std::sort(latencies_.begin(), latencies_.end());
    auto pct = [&](double q) -> std::int64_t {
      if (latencies_.empty()) return -1;
      const auto i = static_cast<std::size_t>(q * static_cast<double>(latencies_.size() - 1));
      return latencies_[i];
    };
    char line[1024];  // names are short stage and system labels
    std::snprintf(line, sizeof line,
                  "{\"system\":\"%.*s\",\"role\":\"%.*s\",\"name\":\"%.*s\",\"count\":%llu,"
                  "\"dropped\":%llu,\"first_ns\":%lld,\"last_ns\":%lld,\"cpu_ns\":%lld,"
                  "\"max_rss_kib\":%ld,\"lat_p50_ns\":%lld,\"lat_p99_ns\":%lld,"
                  "\"lat_p999_ns\":%lld}\n",
                  static_cast<int>(system.size()), system.data(), static_cast<int>(role.size()),
                  role.data(), static_cast<int>(name.size()), name.data(),
                  static_cast<unsigned long long>(count_), static_cast<unsigned long long>(dropped),
                  static_cast<long long>(first_ns_), static_cast<long long>(last_ns_),
                  static_cast<long long>(cpu), max_rss_kib(), static_cast<long long>(pct(0.50)),
                  static_cast<long long>(pct(0.99)), static_cast<long long>(pct(0.999)));
    FILE* f = path.empty() ? stdout : std::fopen(path.c_str(), "a");
    if (f == nullptr) throw std::runtime_error("cannot open result file " + path);
    std::fputs(line, f);
    if (f != stdout) std::fclose(f);
  }

 private:
  std::uint64_t count_ = 0;
  std::int64_t first_ns_ = 0;
  std::int64_t last_ns_ = 0;
  std::int64_t cpu_first_ = 0;
  bool record_latency_ = true;
  std::vector<std::int64_t> latencies_;
};

}  // namespace bench
