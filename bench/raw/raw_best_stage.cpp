// bench-raw-best-stage: one stage of the benchmark pipelines written directly on libzmq the way a
// performance-minded engineer writes it: the baseline every "÷ raw" ratio and target of
// bench/run.py is measured against. Same roles, work and result line as bench-raw-stage (the
// naive baseline, raw_stage.cpp): every hop decodes brook's envelope and the {seq, t_ns, body}
// payload and re-encodes both. What it does better, each for a reason given where it is done:
//   - fan-out through one XPUB per writer (bound; XPUB_NODROP: backpressure, never a drop) that
//     every reader's SUB connects to, not one blocking PUSH per reader; a channel with a single
//     reader is a PUSH to a PULL instead, which skips the subscription matching XPUB and SUB do
//     per message (one hop, 100 B: see docs/bench.md);
//   - a burst is drained without a poll between messages, and a wait costs one poll(2);
//   - nothing is allocated per message: envelope and payload are decoded as views into the
//     received frame (envelope_view.hpp), re-encoded into one reused buffer, sent with zmq_send;
//   - high-water marks (--hwm) tuned per shape and size by bench/run.py (RAW_HWM says why).
// `--codec none` is the transport ceiling: the same sockets, but the frames carry no envelope.
// The source writes seq and t_ns into the first 16 bytes of a body-sized frame, a relay
// forwards the received frame as it is, a sink reads t_ns at byte 8. A mode of this program
// rather than a program of its own, so that the sockets are the same code and the two rows
// differ by the codec alone.
//
// Wiring (the reverse of bench-raw-stage's): a writer binds --out and waits until its
// --subscribers readers are connected before it sends (SUBs: their subscriptions; one PULL: the
// PUSH's handshake, from a socket monitor); a reader connects --in, as a PULL if --in-readers is
// 1, else as a SUB. A relay connects its input only once its own readers are, so by the time
// the source sees its readers the whole pipeline is, and no message waits for a reader.
//
// usage: bench-raw-best-stage --role source|relay|sink --name NAME --count N [--rate R]
//          [--size B] [--in EP [--in-readers N]] [--out EP --subscribers N]
//          [--codec envelope|none] [--hwm N] [--result FILE] [--timeout-s T]
// exit: 0 done, 1 runtime error, 2 bad usage, 3 timed out (the result is written as it stood).
#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/bench_stage.hpp"
#include "common/raw_args.hpp"
#include "raw/envelope_view.hpp"

namespace {

constexpr int kWakeMs = 100;  // how often a blocked send, recv or poll wakes to check the deadline
// Same pacing as every other system's source (bench::Pacer): paced rows stay comparable.
constexpr auto kPaceNap = std::chrono::milliseconds(1);
constexpr std::size_t kCeilingHeader = 16;  // --codec none: seq and t_ns, native byte order

constexpr const char* kUsage =
    "usage: bench-raw-best-stage --role source|relay|sink --name NAME --count N [--rate R]\n"
    "       [--size B] [--in ENDPOINT [--in-readers N]] [--out ENDPOINT --subscribers N]\n"
    "       [--codec envelope|none] [--hwm N] [--result FILE] [--timeout-s T]\n";

using bench::UsageError;

struct Options : bench::RawArgs {
  std::string out;
  int subscribers = 0;
  int in_readers = 1;  // how many readers --in's channel has: its writer's --subscribers
  int hwm = 1000;      // send and receive high-water marks, messages (libzmq's default)
  bool codec = true;   // --codec envelope (default) or none
};

Options parse_options(int argc, char** argv) {
  Options o;
  bench::parse_raw_args(argc, argv, o, [&](std::string_view flag, std::string_view value) {
    if (flag == "--out") {
      o.out = value;
    } else if (flag == "--subscribers") {
      o.subscribers = bench::parse_number<int>(flag, value);
    } else if (flag == "--in-readers") {
      o.in_readers = bench::parse_number<int>(flag, value);
      if (o.in_readers < 1) throw UsageError("--in-readers must be >= 1");
    } else if (flag == "--hwm") {
      o.hwm = bench::parse_number<int>(flag, value);
      if (o.hwm < 1) throw UsageError("--hwm must be >= 1");
    } else if (flag == "--codec") {
      if (value != "envelope" && value != "none") throw UsageError("--codec: envelope or none");
      o.codec = value == "envelope";
    } else {
      return false;
    }
    return true;
  });
  if ((o.role == "sink") != o.out.empty() || (o.role == "sink") != (o.subscribers == 0)) {
    throw UsageError(
        "--out and --subscribers N (N > 0) are required for source and relay, "
        "and only for them");
  }
  if (!o.codec && o.size < kCeilingHeader) throw UsageError("--codec none needs --size >= 16");
  return o;
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + zmq_strerror(zmq_errno()));
}

void set_int(void* socket, int option, int value, const char* name) {
  if (zmq_setsockopt(socket, option, &value, sizeof value) != 0) fail(name);
}

enum class Outcome { done, timed_out };

class Stage {
 public:
  Stage(const Options& o, std::int64_t start_ns)
      : o_(o),
        deadline_ns_(start_ns + static_cast<std::int64_t>(std::min(o.timeout_s, 1e9) * 1e9)),
        ctx_(zmq_ctx_new()),
        writer_(o.name, "channel") {
    if (ctx_ == nullptr) fail("zmq_ctx_new");
    stats_.record_latency(o.role == "sink");
    zmq_msg_init(&frame_);
    if (o.out.empty()) return;
    if (o.subscribers == 1) {
      out_ = socket(ZMQ_PUSH);
      // Its handshakes tell when the reader is connected (wait_for_subscribers).
      const std::string monitor = "inproc://out-monitor";
      if (zmq_socket_monitor(out_, monitor.c_str(), ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0) {
        fail("zmq_socket_monitor");
      }
      monitor_ = socket(ZMQ_PAIR);
      set_int(monitor_, ZMQ_RCVTIMEO, kWakeMs, "ZMQ_RCVTIMEO");
      if (zmq_connect(monitor_, monitor.c_str()) != 0) fail("connect " + monitor);
    } else {
      out_ = socket(ZMQ_XPUB);
      // XPUB drops for a subscriber whose pipe is full unless NODROP: then zmq_send returns
      // EAGAIN (a blocking send waits), so the slowest reader backpressures the writer as a PUSH
      // would, while one send serves every reader: the frame is copied once and shared.
      set_int(out_, ZMQ_XPUB_NODROP, 1, "ZMQ_XPUB_NODROP");
      // Every subscriber's subscription, not only the first for a topic: they are counted.
      set_int(out_, ZMQ_XPUB_VERBOSE, 1, "ZMQ_XPUB_VERBOSE");
    }
    set_int(out_, ZMQ_SNDHWM, o.hwm, "ZMQ_SNDHWM");
    set_int(out_, ZMQ_SNDTIMEO, kWakeMs, "ZMQ_SNDTIMEO");
    set_int(out_, ZMQ_RCVTIMEO, kWakeMs, "ZMQ_RCVTIMEO");
    if (zmq_bind(out_, o.out.c_str()) != 0) fail("bind " + o.out);
    buf_.resize(o.codec ? writer_.capacity(o.size) : o.size);
  }

  Stage(const Stage&) = delete;
  Stage& operator=(const Stage&) = delete;

  ~Stage() {  // after an exception; run() closes everything itself
    zmq_msg_close(&frame_);
    for (void* s : {in_, out_, monitor_}) {
      if (s != nullptr) zmq_close(s);
    }
    if (ctx_ != nullptr) zmq_ctx_term(ctx_);
  }

  int run() {
    Outcome outcome = Outcome::done;
    if (out_ != nullptr) outcome = wait_for_subscribers();
    if (outcome == Outcome::done && !o_.in.empty()) connect_input();
    if (outcome == Outcome::done) {
      outcome = o_.role == "source" ? run_source() : o_.role == "relay" ? run_relay() : run_sink();
    }
    shut_down(outcome);
    // Linger runs out at the deadline: a flush that ended there may not have finished.
    if (outcome == Outcome::done && !o_.out.empty() && expired()) outcome = Outcome::timed_out;
    // Written after the flush, so the CPU the I/O thread spends sending the tail is counted.
    stats_.write(o_.result, o_.codec ? "raw" : "raw-ceiling", o_.role, o_.name, dropped_);
    return outcome == Outcome::done ? 0 : 3;
  }

 private:
  bool expired() const { return bench::mono_ns() >= deadline_ns_; }

  void* socket(int type) {
    void* s = zmq_socket(ctx_, type);
    if (s == nullptr) fail("zmq_socket");
    // Until the run is over: an exception on the way must not hang in zmq_ctx_term.
    set_int(s, ZMQ_LINGER, 0, "ZMQ_LINGER");
    return s;
  }

  // A subscription arrives on the XPUB as a message "\x01<topic>" once the subscriber's
  // connection is up and attached: from then on a send reaches it. A PUSH's reader is attached
  // once the handshake succeeded; the monitor's event is two frames (event and value, then the
  // endpoint).
  Outcome wait_for_subscribers() {
    if (monitor_ != nullptr) {
      for (bool seen = false; !seen;) {
        if (zmq_msg_recv(&frame_, monitor_, 0) < 0) {
          if (zmq_errno() != EAGAIN) fail("receive a monitor event");
          if (expired()) return Outcome::timed_out;
          continue;
        }
        std::uint16_t event = 0;
        if (zmq_msg_size(&frame_) >= sizeof event) {
          std::memcpy(&event, zmq_msg_data(&frame_), sizeof event);
        }
        seen = event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
        if (zmq_msg_more(&frame_) && zmq_msg_recv(&frame_, monitor_, 0) < 0) fail("monitor");
      }
      zmq_socket_monitor(out_, nullptr, 0);
      zmq_close(monitor_);
      monitor_ = nullptr;
      return Outcome::done;
    }
    for (int seen = 0; seen < o_.subscribers;) {
      if (zmq_msg_recv(&frame_, out_, 0) < 0) {
        if (zmq_errno() != EAGAIN) fail("receive a subscription");
        if (expired()) return Outcome::timed_out;
        continue;
      }
      const auto* p = static_cast<const unsigned char*>(zmq_msg_data(&frame_));
      if (zmq_msg_size(&frame_) >= 1 && p[0] == 1) ++seen;
    }
    return Outcome::done;
  }

  void connect_input() {
    in_ = socket(o_.in_readers == 1 ? ZMQ_PULL : ZMQ_SUB);
    set_int(in_, ZMQ_RCVHWM, o_.hwm, "ZMQ_RCVHWM");
    set_int(in_, ZMQ_RCVTIMEO, kWakeMs, "ZMQ_RCVTIMEO");
    if (o_.in_readers > 1 && zmq_setsockopt(in_, ZMQ_SUBSCRIBE, "", 0) != 0) fail("ZMQ_SUBSCRIBE");
    if (zmq_connect(in_, o_.in.c_str()) != 0) fail("connect " + o_.in);
  }

  // The send blocks (up to kWakeMs, then again until the deadline) only while a subscriber's
  // pipe is full. Blocking, not zmq_poll for ZMQ_POLLOUT: an XPUB always reports POLLOUT
  // (libzmq's dist_t::has_out), even when NODROP would refuse the send; a blocking send waits
  // for the pipe's own "room again" command instead. When there is room it costs what a
  // ZMQ_DONTWAIT send costs: the timeout is only looked at after a refusal.
  bool send(const void* data, std::size_t size) {
    while (zmq_send(out_, data, size, 0) < 0) {
      if (zmq_errno() != EAGAIN) fail("send");
      if (expired()) return false;
    }
    return true;
  }

  // The received frame itself (--codec none relay): no copy at all.
  bool send_frame() {
    while (zmq_msg_send(&frame_, out_, 0) < 0) {
      if (zmq_errno() != EAGAIN) fail("send");
      if (expired()) return false;
    }
    return true;
  }

  // The next frame into frame_ (reused: libzmq releases the previous content, and a frame over
  // 33 bytes refers to the I/O thread's receive buffer rather than a copy). While messages are
  // queued this returns at once, so a burst is drained without a poll between messages. When
  // none is, the blocking recv is the poll: it sleeps on the socket's own mailbox, one poll(2)
  // per wait. zmq_poll on the one socket after a ZMQ_DONTWAIT miss costs more: a zero-timeout
  // poll(2) first, ZMQ_EVENTS, then the waiting poll(2) (shop, 100 B, 1M messages: 130k poll
  // calls and 45k context switches against 64k and 27k; docs/bench.md).
  bool receive() {
    while (zmq_msg_recv(&frame_, in_, 0) < 0) {
      if (zmq_errno() != EAGAIN) fail("receive");
      if (expired()) return false;
    }
    // A steady stream must stop at the deadline too; the clock is read once per 1024 frames.
    return (++received_ & 1023) != 0 || !expired();
  }

  bool decode(bench::PayloadView& m) {
    const void* data = zmq_msg_data(&frame_);
    const std::size_t size = zmq_msg_size(&frame_);
    if (!o_.codec) {
      if (size < kCeilingHeader) {
        ++dropped_;
        return false;
      }
      std::memcpy(&m.seq, data, 8);
      std::memcpy(&m.t_ns, static_cast<const char*>(data) + 8, 8);
      return true;
    }
    bench::EnvelopeView env;
    if (bench::decode_envelope(data, size, env) && bench::decode_payload(env.payload, m)) {
      return true;
    }
    ++dropped_;
    return false;
  }

  std::size_t encode(std::uint64_t seq, const bench::PayloadView& m) {
    if (!o_.codec) {
      std::memcpy(buf_.data(), &m.seq, 8);
      std::memcpy(buf_.data() + 8, &m.t_ns, 8);
      return buf_.size();
    }
    // A relay learns the body's size from the frame: the buffer grows to the largest seen.
    if (const std::size_t need = writer_.capacity(m.body.size()); buf_.size() < need) {
      buf_.resize(need);
    }
    return writer_.encode(buf_.data(), seq, bench::mono_ns(), m);
  }

  // Flat out, a batch of 1000 (bench::Pacer) between deadline checks; paced, what is due every
  // 1 ms, as every system's source does.
  Outcome run_source() {
    const std::string body(o_.size, 'x');
    if (!o_.codec) std::fill(buf_.begin(), buf_.end(), 'x');
    std::uint64_t sent = 0;
    const bench::Pacer pacer(o_.rate);
    while (sent < o_.count) {
      if (expired()) return Outcome::timed_out;
      const std::uint64_t due = std::min(pacer.due(sent), o_.count);
      if (due <= sent) {
        std::this_thread::sleep_for(kPaceNap);
        continue;
      }
      for (; sent < due; ++sent) {
        const bench::PayloadView m{sent + 1, bench::mono_ns(), body};
        if (!send(buf_.data(), encode(sent + 1, m))) return Outcome::timed_out;
        stats_.on_message(0);
      }
    }
    return Outcome::done;
  }

  Outcome run_relay() {
    std::uint64_t forwarded = 0;
    bench::PayloadView m;
    while (forwarded < o_.count) {
      if (!receive()) return Outcome::timed_out;
      if (!decode(m)) continue;
      // m keeps the source's t_ns: latency is end to end.
      if (!(o_.codec ? send(buf_.data(), encode(forwarded + 1, m)) : send_frame())) {
        return Outcome::timed_out;
      }
      stats_.on_message(0);
      ++forwarded;
    }
    return Outcome::done;
  }

  Outcome run_sink() {
    bench::PayloadView m;
    while (stats_.count() < o_.count) {
      if (!receive()) return Outcome::timed_out;
      if (decode(m)) stats_.on_message(m.t_ns);
    }
    return Outcome::done;
  }

  // Done: wait, up to the deadline, until everything sent has left for the readers (linger), so
  // none of it is lost with the process. Timed out: a reader is gone or stuck; exit now.
  void shut_down(Outcome outcome) {
    const std::int64_t left_ms = (deadline_ns_ - bench::mono_ns()) / 1'000'000;
    const int linger = outcome == Outcome::done
                           ? static_cast<int>(std::clamp<std::int64_t>(left_ms, 0, INT_MAX))
                           : 0;
    if (out_ != nullptr) {
      set_int(out_, ZMQ_LINGER, linger, "ZMQ_LINGER");
      zmq_close(out_);
      out_ = nullptr;
    }
    if (in_ != nullptr) {
      zmq_close(in_);
      in_ = nullptr;
    }
    zmq_ctx_term(ctx_);  // returns when the XPUB's pipes are flushed or its linger is up
    ctx_ = nullptr;
  }

  const Options& o_;
  const std::int64_t deadline_ns_;
  void* ctx_;
  void* in_ = nullptr;
  void* out_ = nullptr;
  void* monitor_ = nullptr;  // a PUSH's handshake events, until its reader is connected
  zmq_msg_t frame_;
  std::uint64_t received_ = 0;
  bench::EnvelopeWriter writer_;
  std::vector<char> buf_;  // the frame being sent, reused
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
    std::fprintf(stderr, "bench-raw-best-stage: %s\n%s", e.what(), kUsage);
    return 2;
  }
  try {
    Stage stage(options, start_ns);
    return stage.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench-raw-best-stage %s: %s\n", options.name.c_str(), e.what());
    return 1;
  }
}
