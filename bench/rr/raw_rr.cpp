// bench-raw-rr: the raw libzmq baseline of brook's request/reply row — a DEALER client sending
// one request at a time to a ROUTER server that echoes it, written as plainly and fast as libzmq
// allows (blocking calls, no envelope, no polling layer).
//   bench-raw-rr --role server --bind tcp://127.0.0.1:PORT
//   bench-raw-rr --role client --connect tcp://127.0.0.1:PORT --count N --size BYTES
// The client prints one JSON line: {"p50_us":..,"p99_us":..,"count":N}.
#include <zmq.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

std::string arg(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return fallback;
}

int serve(void* ctx, const std::string& bind) {
  void* s = zmq_socket(ctx, ZMQ_ROUTER);
  if (zmq_bind(s, bind.c_str()) != 0) return 1;
  zmq_msg_t id;
  zmq_msg_t body;
  zmq_msg_init(&id);
  zmq_msg_init(&body);
  while (true) {
    if (zmq_msg_recv(&id, s, 0) < 0) return 1;
    if (zmq_msg_recv(&body, s, 0) < 0) return 1;
    zmq_msg_send(&id, s, ZMQ_SNDMORE);
    zmq_msg_send(&body, s, 0);
  }
}

int ask(void* ctx, const std::string& connect, std::size_t count, std::size_t size) {
  void* s = zmq_socket(ctx, ZMQ_DEALER);
  if (zmq_connect(s, connect.c_str()) != 0) return 1;
  std::string payload(size, 'x');
  std::vector<char> buf(size + 64);
  const std::size_t warmup = std::min<std::size_t>(1000, count / 10);
  std::vector<double> rtt;
  rtt.reserve(count);
  for (std::size_t i = 0; i < warmup + count; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    zmq_send(s, payload.data(), payload.size(), 0);
    if (zmq_recv(s, buf.data(), buf.size(), 0) < 0) return 1;
    const auto t1 = std::chrono::steady_clock::now();
    if (i >= warmup) rtt.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::sort(rtt.begin(), rtt.end());
  std::printf("{\"p50_us\": %.1f, \"p99_us\": %.1f, \"count\": %zu}\n", rtt[rtt.size() / 2],
              rtt[rtt.size() * 99 / 100], rtt.size());
  zmq_close(s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  void* ctx = zmq_ctx_new();
  const std::string role = arg(argc, argv, "--role", "");
  if (role == "server") return serve(ctx, arg(argc, argv, "--bind", ""));
  if (role == "client") {
    return ask(ctx, arg(argc, argv, "--connect", ""),
               std::strtoull(arg(argc, argv, "--count", "20000").c_str(), nullptr, 10),
               std::strtoull(arg(argc, argv, "--size", "100").c_str(), nullptr, 10));
  }
  std::fprintf(stderr, "usage: bench-raw-rr --role server|client ...\n");
  return 2;
}
