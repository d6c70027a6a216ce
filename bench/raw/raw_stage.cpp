// bench-raw-stage: one stage of the benchmark pipelines written directly on libzmq, the naive
// way: the `raw-naive` row of bench/run.py, shown beside `raw` (raw_best_stage.cpp, the baseline
// every ratio uses) so the table shows what the best one's choices are worth. Same roles and
// result line as bench/brook/brook_bench_stage.cpp; every reader binds a PULL, every writer
// connects one PUSH per reader and sends to each with a blocking send, every hop decodes brook's
// envelope into a fresh object (msgpack::unpack) and re-encodes it.
//
// usage: bench-raw-stage --role source|relay|sink --name NAME --count N [--rate R] [--size B]
//                        [--in EP] [--out EP[,EP...]] [--result FILE] [--timeout-s T]
// exit: 0 done, 1 runtime error, 2 bad usage, 3 timed out (the result is written as it stood).
#include <algorithm>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "common/bench_stage.hpp"
#include "common/raw_args.hpp"

namespace {

constexpr int kWakeMs = 100;  // how often a blocked send/recv wakes to check the deadline
// A paced source's nap when nothing is due. It sets how many messages leave per wakeup, and so
// the per-message wakeup cost of every hop: brook's bench source ticks every 1 ms.
constexpr auto kPaceNap = std::chrono::milliseconds(1);

constexpr const char* kUsage =
    "usage: bench-raw-stage --role source|relay|sink --name NAME --count N [--rate R]\n"
    "       [--size B] [--in ENDPOINT] [--out EP[,EP...]] [--result FILE] [--timeout-s T]\n";

using bench::UsageError;

struct Options : bench::RawArgs {
  std::vector<std::string> outs;
};

std::vector<std::string> split_endpoints(std::string_view list) {
  std::vector<std::string> eps;
  for (std::size_t start = 0; start <= list.size();) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    if (comma == start) throw UsageError("--out: empty endpoint in '" + std::string(list) + "'");
    eps.emplace_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return eps;
}

Options parse_options(int argc, char** argv) {
  Options o;
  bench::parse_raw_args(argc, argv, o, [&](std::string_view flag, std::string_view value) {
    if (flag != "--out") return false;
    o.outs = split_endpoints(value);
    return true;
  });
  if ((o.role == "sink") != o.outs.empty()) {
    throw UsageError("--out is required for source and relay, and only for them");
  }
  return o;
}

// zmq's own message ("Address already in use") does not say which endpoint.
template <typename F>
void with_endpoint(const char* what, const std::string& ep, F&& f) {
  try {
    f();
  } catch (const zmq::error_t& e) {
    throw std::runtime_error(std::string(what) + " " + ep + ": " + e.what());
  }
}

enum class Outcome { done, timed_out };

class Stage {
 public:
  Stage(const Options& o, std::int64_t start_ns)
      : o_(o),
        deadline_ns_(start_ns + static_cast<std::int64_t>(std::min(o.timeout_s, 1e9) * 1e9)),
        codec_(o.name, "channel") {
    stats_.record_latency(o.role == "sink");
    if (!o.in.empty()) {
      in_ = zmq::socket_t(ctx_, zmq::socket_type::pull);
      in_.set(zmq::sockopt::rcvtimeo, kWakeMs);
      with_endpoint("bind", o.in, [&] { in_.bind(o.in); });
    }
    for (const auto& ep : o.outs) {
      zmq::socket_t& s = outs_.emplace_back(ctx_, zmq::socket_type::push);
      s.set(zmq::sockopt::sndtimeo, kWakeMs);
      // Until the run is over: an exception on the way must not hang in zmq_ctx_term.
      s.set(zmq::sockopt::linger, 0);
      with_endpoint("connect", ep, [&] { s.connect(ep); });
    }
  }

  int run() {
    Outcome outcome = o_.role == "source"  ? run_source()
                      : o_.role == "relay" ? run_relay()
                                           : run_sink();
    shut_down(outcome);
    // Linger runs out at the deadline: a flush that ended there may not have finished.
    if (outcome == Outcome::done && !outs_.empty() && expired()) outcome = Outcome::timed_out;
    // Written after the flush, so the CPU the I/O thread spends sending the tail is counted.
    stats_.write(o_.result, "raw-naive", o_.role, o_.name, dropped_);
    return outcome == Outcome::done ? 0 : 3;
  }

 private:
  bool expired() const { return bench::mono_ns() >= deadline_ns_; }

  // Blocks like a plain send (PUSH's high-water mark is the backpressure), waking to check the
  // deadline; false once it has passed.
  bool send_all(std::string_view frame) {
    for (auto& s : outs_) {
      while (!s.send(zmq::const_buffer(frame.data(), frame.size()), zmq::send_flags::none)) {
        if (expired()) return false;
      }
    }
    return true;
  }

  // Checked per frame too, so a trickle that never reaches the count still ends at the deadline.
  bool receive(zmq::message_t& frame) {
    do {
      if (expired()) return false;
    } while (!in_.recv(frame, zmq::recv_flags::none));
    return true;
  }

  Outcome run_source() {
    bench::BenchMsg msg;
    msg.body.assign(o_.size, 'x');
    std::uint64_t sent = 0;
    const bench::Pacer pacer(o_.rate);
    while (sent < o_.count) {
      if (expired()) return Outcome::timed_out;
      const std::uint64_t due = std::min(pacer.due(sent), o_.count);
      if (due <= sent) {
        std::this_thread::sleep_for(kPaceNap);
        continue;
      }
      while (sent < due) {
        msg.seq = sent + 1;
        msg.t_ns = bench::mono_ns();
        if (!send_all(codec_.encode(sent + 1, msg))) return Outcome::timed_out;
        stats_.on_message(0);
        ++sent;
      }
    }
    return Outcome::done;
  }

  Outcome run_relay() {
    zmq::message_t frame;
    std::uint64_t forwarded = 0;
    while (forwarded < o_.count) {
      if (!receive(frame)) return Outcome::timed_out;
      bench::BenchMsg msg;
      if (!decode(frame, msg)) continue;
      // msg keeps the source's t_ns: latency is end to end.
      if (!send_all(codec_.encode(forwarded + 1, msg))) return Outcome::timed_out;
      stats_.on_message(0);
      ++forwarded;
    }
    return Outcome::done;
  }

  Outcome run_sink() {
    zmq::message_t frame;
    while (stats_.count() < o_.count) {
      if (!receive(frame)) return Outcome::timed_out;
      bench::BenchMsg msg;
      if (decode(frame, msg)) stats_.on_message(msg.t_ns);
    }
    return Outcome::done;
  }

  // Catches std::exception, not just the documented runtime_error: a well-formed envelope around
  // a payload of the wrong shape throws msgpack::type_error, a std::bad_cast.
  bool decode(const zmq::message_t& frame, bench::BenchMsg& msg) {
    try {
      msg = bench::EnvelopeCodec::decode(frame.data(), frame.size());
      return true;
    } catch (const std::exception&) {
      ++dropped_;
      return false;
    }
  }

  // Done: wait, up to the deadline, until everything sent has left for the readers (linger), so
  // none of it is lost with the process. Timed out: a reader is gone or stuck; exit now.
  void shut_down(Outcome outcome) {
    const std::int64_t left_ms = (deadline_ns_ - bench::mono_ns()) / 1'000'000;
    const int linger = outcome == Outcome::done
                           ? static_cast<int>(std::clamp<std::int64_t>(left_ms, 0, INT_MAX))
                           : 0;
    for (auto& s : outs_) {
      s.set(zmq::sockopt::linger, linger);
      s.close();
    }
    in_.close();
    ctx_.close();  // zmq_ctx_term: returns when every PUSH queue is flushed or its linger is up
  }

  const Options& o_;
  const std::int64_t deadline_ns_;
  zmq::context_t ctx_{1};  // before the sockets: destroyed after them
  zmq::socket_t in_;
  std::vector<zmq::socket_t> outs_;
  bench::EnvelopeCodec codec_;
  bench::StageStats stats_;
  std::uint64_t dropped_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t start_ns = bench::mono_ns();
  Options options;
  try {
    options = parse_options(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "bench-raw-stage: %s\n%s", e.what(), kUsage);
    return 2;
  }
  try {
    Stage stage(options, start_ns);
    return stage.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench-raw-stage %s: %s\n", options.name.c_str(), e.what());
    return 1;
  }
}
