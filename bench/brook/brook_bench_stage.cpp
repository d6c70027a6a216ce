// bench-brook-stage: one stage of the benchmark pipelines on brook (the same roles as
// bench/raw/raw_stage.cpp). params: role source|relay|sink, count, rate (source, msgs/s, 0 = as
// fast as the channel takes them), size (body bytes), result (file for the StageStats line),
// system (label in the result, e.g. brook-best-effort), state (relay: count the messages of each
// of 1024 keys in node.state, a read and a write per message, as a stateful service does).
// Ports: source has output `out`, relay input `in` and output `out`, sink input `in`.
#include <brook/node.hpp>

#include "common/bench_stage.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  const auto role = node.params().get<std::string>("role");
  const auto count = node.params().get<std::uint64_t>("count");
  const auto rate = node.params().get<std::uint64_t>("rate", 0);
  const auto size = node.params().get<std::size_t>("size", 100);
  const auto result = node.params().get<std::string>("result", "");
  const auto system = node.params().get<std::string>("system", "brook");

  bench::StageStats stats;
  stats.record_latency(role == "sink");
  std::uint64_t done = 0;
  auto finish = [&] {
    if (++done == count) node.stop();
  };

  // Looked up once, as a node that emits per message does (brook::Output): node.emit("out", ...)
  // would find the port by name on every message.
  brook::Output<bench::BenchMsg> out;
  if (role == "source" || role == "relay") out = node.output<bench::BenchMsg>("out");

  if (role == "source") {
    bench::BenchMsg msg;
    msg.body.assign(size, 'x');
    std::optional<bench::Pacer> pacer;
    node.on_ready([&] {
      pacer.emplace(rate);
      // Flat out: a batch per loop turn, so the loop still serves acknowledgements and the
      // directory in between; paced: a 1 ms tick.
      node.every(std::chrono::milliseconds(rate == 0 ? 0 : 1), [&] {
        const std::uint64_t due = std::min(pacer->due(done), count);
        while (done < due) {
          msg.seq = done + 1;
          msg.t_ns = bench::mono_ns();
          out.emit(msg);
          stats.on_message(0);
          finish();
        }
      });
    });
  } else if (role == "relay") {
    const bool stateful = node.params().get<bool>("state", false);
    brook::State<std::uint64_t> counts;
    if (stateful) counts = node.state<std::uint64_t>("counts");
    std::string key;
    node.on<bench::BenchMsg>("in", [&](const bench::BenchMsg& m, const brook::Message&) {
      if (stateful) {
        key = std::to_string(m.seq % 1024);
        counts.put(key, counts.get(key).value_or(0) + 1);
      }
      out.emit(m);  // keeps t_ns: latency is end to end
      stats.on_message(0);
      finish();
    });
  } else if (role == "sink") {
    node.on<bench::BenchMsg>("in", [&](const bench::BenchMsg& m, const brook::Message&) {
      stats.on_message(m.t_ns);
      finish();
    });
  } else {
    throw brook::ConfigError("params.role must be source, relay or sink, not '" + role + "'");
  }
  node.on_stop([&] { stats.write(result, system, role, node.name()); });
  return node.run();
}
