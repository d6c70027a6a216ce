// bench-brook-rr: brook's request/reply round trip for bench/run.py, one node program for both
// sides. Params: role (server: echoes each request; client: sends `count` requests of `size`
// bytes one at a time after a warm-up, then appends {"p50_us":..,"p99_us":..,"count":N} to
// `result` and stops).
#include <algorithm>
#include <brook/node.hpp>
#include <fstream>
#include <vector>

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  const auto role = node.params().get<std::string>("role", "server");
  if (role == "server") {
    node.on_request<std::string, std::string>(
        "in", [](const std::string& q, brook::Responder<std::string> r) { r.reply(q); });
    return node.run();
  }
  const auto count = node.params().get<std::uint64_t>("count", 20000);
  const auto size = node.params().get<std::uint64_t>("size", 100);
  const auto result = node.params().get<std::string>("result", "rr.json");
  const std::uint64_t warmup = std::min<std::uint64_t>(1000, count / 10);
  const std::string payload(size, 'x');
  std::vector<double> rtt;
  rtt.reserve(count);
  std::uint64_t done = 0;
  std::chrono::steady_clock::time_point t0;
  std::function<void()> next = [&] {
    t0 = std::chrono::steady_clock::now();
    node.request<std::string>("out", payload, [&](const brook::Reply<std::string>& r) {
      const auto t1 = std::chrono::steady_clock::now();
      if (!r.ok()) {
        std::fprintf(stderr, "bench-brook-rr: %s\n", r.error().c_str());
        node.stop();
        return;
      }
      if (done++ >= warmup)
        rtt.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      if (done < warmup + count) {
        next();
        return;
      }
      std::sort(rtt.begin(), rtt.end());
      std::ofstream(result, std::ios::app) << "{\"p50_us\": " << rtt[rtt.size() / 2]
                                           << ", \"p99_us\": " << rtt[rtt.size() * 99 / 100]
                                           << ", \"count\": " << rtt.size() << "}\n";
      node.stop();
    });
  };
  node.on_ready(next);
  return node.run();
}
