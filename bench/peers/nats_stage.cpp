// One stage of the benchmark pipeline over NATS core (no JetStream), with the libnats C client:
// a source publishes, a relay subscribes and republishes, a sink subscribes and measures. Fan-out
// to the two sinks is NATS's own: both subscribe to the subject the last relay publishes to.
//   bench-nats-stage --role source|relay|sink --name NAME [--count N] [--rate R] [--size B]
//                    [--server nats://127.0.0.1:PORT] [--in SUBJECT] [--out SUBJECT[,SUBJECT]]
//                    [--result FILE] [--timeout-s T]
// Exit: 0 done, 1 error, 2 bad usage, 3 timed out (the result line is written all the same).
#include <nats/nats.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/bench_stage.hpp"
#include "common/stage_args.hpp"

namespace {

// A paced source's nap when nothing is due: 1 ms like every system's source (bench_stage.hpp,
// Pacer), so at a fixed rate each system sees the same small bursts.
constexpr auto kPaceNap = std::chrono::milliseconds(1);
using Args = bench::StageArgs;

std::optional<Args> parse_args(int argc, char** argv) {
  return bench::parse_stage_args(argc, argv, "nats://127.0.0.1:4222", false);
}

bool check(natsStatus s, const char* what) {
  if (s == NATS_OK) return true;
  std::fprintf(stderr, "bench-nats-stage: %s: %s\n", what, natsStatus_GetText(s));
  return false;
}

class Stage {
 public:
  explicit Stage(Args args)
      : args_(std::move(args)),
        codec_(args_.name, "channel"),
        deadline_ns_(bench::mono_ns() +
                     static_cast<std::int64_t>(args_.timeout_s) * 1'000'000'000) {
    if (args_.role != "sink") stats_.record_latency(false);
  }
  ~Stage() {
    natsSubscription_Destroy(sub_);
    natsConnection_Destroy(conn_);
  }

  // Returns the exit code; the result line is written on every path once connected.
  int run() {
    if (!connect()) return 1;
    int code = 1;
    if (args_.role == "source") {
      code = run_source();
    } else if (subscribe()) {
      code = run_consumer();
    }
    std::int64_t dropped = 0;
    if (sub_ != nullptr) natsSubscription_GetDropped(sub_, &dropped);
    stats_.write(args_.result, "nats", args_.role, args_.name,
                 static_cast<std::uint64_t>(std::max<std::int64_t>(dropped, 0)));
    return code;
  }

 private:
  bool timed_out() const { return bench::mono_ns() >= deadline_ns_; }
  std::int64_t ms_left() const {
    return std::max<std::int64_t>(1, (deadline_ns_ - bench::mono_ns()) / 1'000'000);
  }

  bool connect() {
    natsOptions* opts = nullptr;
    bool ok = check(natsOptions_Create(&opts), "options") &&
              check(natsOptions_SetURL(opts, args_.server.c_str()), "url") &&
              check(natsOptions_SetName(opts, args_.name.c_str()), "name") &&
              check(natsConnection_Connect(&conn_, opts), "connect");
    natsOptions_Destroy(opts);
    return ok;
  }

  bool subscribe() {
    if (!check(natsConnection_SubscribeSync(&sub_, conn_, args_.in.c_str()), "subscribe")) {
      return false;
    }
    // The library drops past 65536 pending messages / 64 MiB by default. A stage never receives
    // more than `count`, so a message limit of `count` and no byte limit can never drop.
    const int msg_limit = static_cast<int>(std::clamp<std::uint64_t>(args_.count, 65536, INT_MAX));
    if (!check(natsSubscription_SetPendingLimits(sub_, msg_limit, -1), "pending limits")) {
      return false;
    }
    // The server must have the SUB before the driver starts anyone upstream.
    if (!check(natsConnection_FlushTimeout(conn_, ms_left()), "flush after subscribe"))
      return false;
    std::puts("READY");
    std::fflush(stdout);
    return true;
  }

  bool publish(std::string_view wire) {
    for (const auto& subject : args_.outs) {
      const natsStatus s = natsConnection_Publish(conn_, subject.c_str(), wire.data(),
                                                  static_cast<int>(wire.size()));
      if (!check(s, "publish")) return false;
    }
    return true;
  }

  // Publishes are buffered by the library; without a flush the tail could die with the process.
  int finish() {  // the exit code of a stage that published everything
    if (check(natsConnection_FlushTimeout(conn_, ms_left()), "final flush")) return 0;
    return timed_out() ? 3 : 1;
  }

  int run_source() {
    bench::BenchMsg msg;
    msg.body.assign(args_.size, 'x');
    const bench::Pacer pacer(args_.rate);
    std::uint64_t sent = 0;
    while (sent < args_.count) {
      if (timed_out()) return 3;
      const std::uint64_t due = std::min(pacer.due(sent), args_.count);
      if (due <= sent) {
        std::this_thread::sleep_for(kPaceNap);
        continue;
      }
      for (; sent < due; ++sent) {
        msg.seq = sent;
        msg.t_ns = bench::mono_ns();
        if (!publish(codec_.encode(sent, msg))) return 1;
        stats_.on_message(0);
      }
    }
    return finish();
  }

  int run_consumer() {
    const bool relay = args_.role == "relay";
    std::int64_t dropped = 0;
    // A sink that lost messages would otherwise wait for them until the timeout.
    while (stats_.count() + static_cast<std::uint64_t>(dropped) < args_.count) {
      if (timed_out()) return 3;
      natsMsg* m = nullptr;
      const natsStatus s = natsSubscription_NextMsg(&m, sub_, 100);
      if (s == NATS_TIMEOUT) continue;
      if (s == NATS_SLOW_CONSUMER) {
        natsSubscription_GetDropped(sub_, &dropped);
        continue;
      }
      if (!check(s, "next message")) return 1;
      bench::BenchMsg msg;
      try {
        msg = bench::EnvelopeCodec::decode(natsMsg_GetData(m),
                                           static_cast<std::size_t>(natsMsg_GetDataLength(m)));
      } catch (const std::exception& e) {
        natsMsg_Destroy(m);
        std::fprintf(stderr, "bench-nats-stage: bad message: %s\n", e.what());
        return 1;
      }
      natsMsg_Destroy(m);
      if (relay) {
        if (!publish(codec_.encode(stats_.count(), msg))) return 1;
        stats_.on_message(0);
      } else {
        stats_.on_message(msg.t_ns);
      }
    }
    return relay ? finish() : 0;
  }

  Args args_;
  bench::EnvelopeCodec codec_;
  bench::StageStats stats_;
  std::int64_t deadline_ns_;
  natsConnection* conn_ = nullptr;
  natsSubscription* sub_ = nullptr;
};

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Args> args = parse_args(argc, argv);
  if (!args) {
    std::fprintf(stderr,
                 "usage: bench-nats-stage --role source|relay|sink --name NAME [--count N] "
                 "[--rate R] [--size B] [--server URL] [--in SUBJECT] [--out SUBJECT[,SUBJECT]] "
                 "[--result FILE] [--timeout-s T]\n");
    return 2;
  }
  int code = 1;
  {
    Stage stage(*args);
    try {
      code = stage.run();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench-nats-stage: %s\n", e.what());
    }
  }
  nats_Close();  // joins the library's threads so the process exits cleanly
  return code;
}
