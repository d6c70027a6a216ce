// One stage of the benchmark pipeline over RabbitMQ (AMQP 0-9-1, rabbitmq-c): a source publishes,
// a relay consumes its queue and republishes, a sink consumes and measures. Every publish goes to
// the default exchange with the queue name as routing key, once per --out queue (our fan-out).
//   bench-rabbit-stage --role source|relay|sink --name NAME [--count N] [--rate R] [--size B]
//                      [--server 127.0.0.1:PORT] [--in QUEUE] [--out QUEUE[,QUEUE]]
//                      [--ack auto|confirm] [--result FILE] [--timeout-s T]
// auto: consumers no_ack, plain publishes. confirm: consumers prefetch kPrefetch with manual acks,
// publishers in confirm mode; a relay acks a delivery only once the broker confirmed every copy it
// republished, so each hop is at-least-once end to end.
// Exit: 0 done, 1 error, 2 bad usage, 3 timed out (the result line is written all the same).
#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/tcp_socket.h>
#else  // rabbitmq-c before 0.12 (Debian 12 ships 0.11)
#include <amqp.h>
#include <amqp_tcp_socket.h>
#endif
#include <sys/time.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <map>
#include <optional>
#include <set>
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
constexpr std::uint16_t kPrefetch = 1000;       // unacked deliveries per consumer (confirm)
constexpr std::uint64_t kConfirmWindow = 1000;  // unconfirmed publishes a source may have
constexpr std::uint64_t kSinkAckBatch = 100;    // a sink acks with multiple=true this often
constexpr amqp_channel_t kChannel = 1;

struct Args : bench::StageArgs {
  std::string host;
  std::uint64_t port = 0;
};

std::optional<Args> parse_args(int argc, char** argv) {
  auto common = bench::parse_stage_args(argc, argv, "127.0.0.1:5672", true);
  if (!common) return std::nullopt;
  Args a;
  static_cast<bench::StageArgs&>(a) = std::move(*common);
  const auto colon = a.server.rfind(':');
  if (colon == std::string::npos || !bench::parse_uint(a.server.substr(colon + 1), a.port) ||
      a.port > 65535) {
    return std::nullopt;
  }
  a.host = a.server.substr(0, colon);
  return a;
}

bool rpc_ok(amqp_rpc_reply_t r, const char* what) {
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return true;
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
    std::fprintf(stderr, "bench-rabbit-stage: %s: %s\n", what, amqp_error_string2(r.library_error));
  } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
    const auto* m = static_cast<const amqp_channel_close_t*>(r.reply.decoded);
    std::fprintf(stderr, "bench-rabbit-stage: %s: broker closed the channel: %.*s\n", what,
                 static_cast<int>(m->reply_text.len),
                 static_cast<const char*>(m->reply_text.bytes));
  } else {
    std::fprintf(stderr, "bench-rabbit-stage: %s: broker refused (method 0x%08x)\n", what,
                 r.reply.id);
  }
  return false;
}

bool is_library_error(amqp_rpc_reply_t r, int status) {
  return r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == status;
}

// Publisher confirms: tags count from 1 per channel; the broker acks or nacks each once, singly
// or as "everything up to here". Acks for different queues may come out of order, so single
// acks above the contiguous prefix wait in `loose_` until the gap closes.
class Confirms {
 public:
  void on_publish() { ++published_; }
  void on_settle(std::uint64_t tag, bool multiple, bool nack) {
    const std::uint64_t before = settled();
    if (multiple) {
      upto_ = std::max(upto_, tag);
      loose_.erase(loose_.begin(), loose_.upper_bound(tag));
    } else if (tag > upto_) {
      loose_.insert(tag);
    }
    while (!loose_.empty() && *loose_.begin() == upto_ + 1) {
      loose_.erase(loose_.begin());
      ++upto_;
    }
    if (nack) nacked_ += settled() - before;
  }
  std::uint64_t published() const { return published_; }
  std::uint64_t contiguous() const { return upto_; }  // every tag <= this is settled
  std::uint64_t outstanding() const { return published_ - settled(); }
  std::uint64_t nacked() const { return nacked_; }

 private:
  std::uint64_t settled() const { return upto_ + loose_.size(); }
  std::uint64_t published_ = 0, upto_ = 0, nacked_ = 0;
  std::set<std::uint64_t> loose_;
};

class Stage {
 public:
  explicit Stage(Args args)
      : args_(std::move(args)),
        confirm_(args_.ack == "confirm"),
        codec_(args_.name, "channel"),
        deadline_ns_(bench::mono_ns() +
                     static_cast<std::int64_t>(args_.timeout_s) * 1'000'000'000) {
    if (args_.role != "sink") stats_.record_latency(false);
    for (const auto& q : args_.outs)
      out_keys_.push_back(amqp_cstring_bytes(q.c_str()));
    props_._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    props_.delivery_mode = 1;  // transient: the benchmark measures messaging, not the disk
  }
  ~Stage() {
    if (conn_ != nullptr) amqp_destroy_connection(conn_);
  }

  int run() {
    if (!connect()) return 1;
    int code = 1;
    if (args_.role == "source") {
      code = run_source();
    } else if (consume()) {
      code = run_consumer();
    }
    stats_.write(args_.result, confirm_ ? "rabbitmq-confirm" : "rabbitmq-auto", args_.role,
                 args_.name, confirms_.nacked());
    if (code == 0 && !close()) code = timed_out() ? 3 : 1;
    return code;
  }

 private:
  bool timed_out() const { return bench::mono_ns() >= deadline_ns_; }

  // RPCs (setup, close) may take until the deadline, no longer.
  void bound_rpcs() {
    const std::int64_t left_us =
        std::max<std::int64_t>(1'000'000, (deadline_ns_ - bench::mono_ns()) / 1000);
    timeval tv{static_cast<time_t>(left_us / 1'000'000),
               static_cast<suseconds_t>(left_us % 1'000'000)};
    amqp_set_rpc_timeout(conn_, &tv);
  }

  // Without confirms, the close-ok is the only sign that the broker took every publish: it
  // answers after the frames before it, and a publisher that just drops the TCP connection
  // loses whatever the broker (under flow control) had not read yet.
  bool close() {
    bound_rpcs();
    return rpc_ok(amqp_channel_close(conn_, kChannel, AMQP_REPLY_SUCCESS), "channel close") &&
           rpc_ok(amqp_connection_close(conn_, AMQP_REPLY_SUCCESS), "connection close");
  }

  bool connect() {
    conn_ = amqp_new_connection();
    amqp_socket_t* socket = amqp_tcp_socket_new(conn_);
    const int port = static_cast<int>(args_.port);
    if (socket == nullptr || amqp_socket_open(socket, args_.host.c_str(), port) != AMQP_STATUS_OK) {
      std::fprintf(stderr, "bench-rabbit-stage: cannot connect to %s\n", args_.server.c_str());
      return false;
    }
    const amqp_rpc_reply_t login = amqp_login(conn_, "/", 0, AMQP_DEFAULT_FRAME_SIZE, 0,
                                              AMQP_SASL_METHOD_PLAIN, "guest", "guest");
    if (!rpc_ok(login, "login")) return false;
    bound_rpcs();
    amqp_channel_open(conn_, kChannel);
    if (!rpc_ok(amqp_get_rpc_reply(conn_), "channel open")) return false;
    if (confirm_ && args_.role != "sink") {
      amqp_confirm_select(conn_, kChannel);
      if (!rpc_ok(amqp_get_rpc_reply(conn_), "confirm select")) return false;
    }
    return true;
  }

  bool consume() {
    const amqp_bytes_t queue = amqp_cstring_bytes(args_.in.c_str());
    amqp_queue_declare(conn_, kChannel, queue, 0, 0, 0, 0, amqp_empty_table);
    if (!rpc_ok(amqp_get_rpc_reply(conn_), "queue declare")) return false;
    if (confirm_) {
      amqp_basic_qos(conn_, kChannel, 0, kPrefetch, 0);
      if (!rpc_ok(amqp_get_rpc_reply(conn_), "basic.qos")) return false;
    }
    amqp_basic_consume(conn_, kChannel, queue, amqp_empty_bytes, 0, confirm_ ? 0 : 1, 0,
                       amqp_empty_table);
    if (!rpc_ok(amqp_get_rpc_reply(conn_), "basic.consume")) return false;
    std::puts("READY");
    std::fflush(stdout);
    return true;
  }

  bool publish(std::string_view wire) {
    const amqp_bytes_t body{wire.size(), const_cast<char*>(wire.data())};
    for (const amqp_bytes_t& key : out_keys_) {
      const int rc =
          amqp_basic_publish(conn_, kChannel, amqp_empty_bytes, key, 0, 0, &props_, body);
      if (rc != AMQP_STATUS_OK) {
        std::fprintf(stderr, "bench-rabbit-stage: publish: %s\n", amqp_error_string2(rc));
        return false;
      }
      if (confirm_) confirms_.on_publish();
    }
    return true;
  }

  // Everything but a delivery: publisher confirms, or the broker closing on us.
  bool handle_frame(const amqp_frame_t& f) {
    if (f.frame_type != AMQP_FRAME_METHOD) return true;
    switch (f.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const auto* m = static_cast<const amqp_basic_ack_t*>(f.payload.method.decoded);
        confirms_.on_settle(m->delivery_tag, m->multiple != 0, false);
        return true;
      }
      case AMQP_BASIC_NACK_METHOD: {
        const auto* m = static_cast<const amqp_basic_nack_t*>(f.payload.method.decoded);
        confirms_.on_settle(m->delivery_tag, m->multiple != 0, true);
        return true;
      }
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD:
        std::fprintf(stderr, "bench-rabbit-stage: broker closed the channel\n");
        return false;
      default:
        return true;
    }
  }

  // Reads and handles one non-delivery frame: 1 handled, 0 nothing within timeout_us, -1 error.
  int poll_frame(long timeout_us) {
    amqp_maybe_release_buffers(conn_);
    amqp_frame_t f;
    timeval tv{0, timeout_us};
    const int rc = amqp_simple_wait_frame_noblock(conn_, &f, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) return 0;
    if (rc != AMQP_STATUS_OK) {
      std::fprintf(stderr, "bench-rabbit-stage: read: %s\n", amqp_error_string2(rc));
      return -1;
    }
    return handle_frame(f) ? 1 : -1;
  }

  // Waits until at most `limit` publishes are unconfirmed; false on error or timeout.
  bool await_confirms(std::uint64_t limit) {
    while (confirms_.outstanding() > limit) {
      if (timed_out() || poll_frame(100'000) < 0) return false;
    }
    return true;
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
        // Idle time reads confirms already there, so the window never stalls a paced source.
        while (confirm_ && poll_frame(0) > 0) {
        }
        std::this_thread::sleep_for(kPaceNap);
        continue;
      }
      for (; sent < due; ++sent) {
        if (confirm_ && !await_confirms(kConfirmWindow - out_keys_.size()))
          return timed_out() ? 3 : 1;
        msg.seq = sent;
        msg.t_ns = bench::mono_ns();
        if (!publish(codec_.encode(sent, msg))) return 1;
        stats_.on_message(0);
      }
    }
    if (confirm_ && !await_confirms(0)) return timed_out() ? 3 : 1;
    return 0;
  }

  // Confirm-mode relay: acks (multiple=true) the deliveries whose republished copies are all
  // confirmed. Deliveries are pending in order of their tags, so the front is the oldest.
  void ack_forwarded() {
    std::uint64_t tag = 0;
    while (!forwarded_.empty() && forwarded_.front().second <= confirms_.contiguous()) {
      tag = forwarded_.front().first;
      forwarded_.pop_front();
    }
    if (tag != 0) amqp_basic_ack(conn_, kChannel, tag, 1);
  }

  int run_consumer() {
    const bool relay = args_.role == "relay";
    std::uint64_t unacked = 0, last_tag = 0;
    while (stats_.count() < args_.count) {
      if (timed_out()) return 3;
      amqp_maybe_release_buffers(conn_);
      amqp_envelope_t env;
      const timeval tv{0, 100'000};
      const amqp_rpc_reply_t r = amqp_consume_message(conn_, &env, &tv, 0);
      if (is_library_error(r, AMQP_STATUS_TIMEOUT)) continue;
      if (is_library_error(r, AMQP_STATUS_UNEXPECTED_STATE)) {
        // A non-delivery frame (a confirm, a close) was put back for us to read.
        if (poll_frame(0) < 0) return 1;
        if (relay && confirm_) ack_forwarded();
        continue;
      }
      if (!rpc_ok(r, "consume")) return 1;
      last_tag = env.delivery_tag;
      bench::BenchMsg msg;
      try {
        msg = bench::EnvelopeCodec::decode(env.message.body.bytes, env.message.body.len);
      } catch (const std::exception& e) {
        amqp_destroy_envelope(&env);
        std::fprintf(stderr, "bench-rabbit-stage: bad message: %s\n", e.what());
        return 1;
      }
      amqp_destroy_envelope(&env);
      if (relay) {
        if (!publish(codec_.encode(stats_.count(), msg))) return 1;
        stats_.on_message(0);
        if (confirm_) forwarded_.emplace_back(last_tag, confirms_.published());
      } else {
        stats_.on_message(msg.t_ns);
        if (confirm_ && ++unacked == kSinkAckBatch) {
          amqp_basic_ack(conn_, kChannel, last_tag, 1);
          unacked = 0;
        }
      }
    }
    if (!confirm_) return 0;
    if (!relay) {
      if (unacked > 0) amqp_basic_ack(conn_, kChannel, last_tag, 1);
      return 0;
    }
    const bool ok = await_confirms(0);
    ack_forwarded();
    return ok ? 0 : (timed_out() ? 3 : 1);
  }

  Args args_;
  bool confirm_;
  bench::EnvelopeCodec codec_;
  bench::StageStats stats_;
  std::int64_t deadline_ns_;
  std::vector<amqp_bytes_t> out_keys_;
  amqp_basic_properties_t props_{};
  amqp_connection_state_t conn_ = nullptr;
  Confirms confirms_;
  std::deque<std::pair<std::uint64_t, std::uint64_t>> forwarded_;  // delivery tag, last publish tag
};

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Args> args = parse_args(argc, argv);
  if (!args) {
    std::fprintf(stderr,
                 "usage: bench-rabbit-stage --role source|relay|sink --name NAME [--count N] "
                 "[--rate R] [--size B] [--server HOST:PORT] [--in QUEUE] [--out QUEUE[,QUEUE]] "
                 "[--ack auto|confirm] [--result FILE] [--timeout-s T]\n");
    return 2;
  }
  // rabbitmq-c has no send timeout: a publish the broker never reads (flow control, alarms) would
  // block past --timeout-s. Last resort, without a result line: exit 3 a little after it.
  std::thread([timeout_s = args->timeout_s] {
    std::this_thread::sleep_for(std::chrono::seconds(timeout_s + 15));
    std::fprintf(stderr, "bench-rabbit-stage: stuck past --timeout-s, exiting\n");
    std::_Exit(3);
  }).detach();
  try {
    Stage stage(*args);
    return stage.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench-rabbit-stage: %s\n", e.what());
    return 1;
  }
}
