// brook-test-asker: sends `count` TestQuery requests on output "out", one every period_ms
// (timeout_ms: per request, 0 = the channel's), then writes a report — one line per request,
// "n ok <asker> <server>" or "n error <text>" — and stops.
#include <brook/node.hpp>
#include <fstream>
#include <map>

#include "test_msg.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  const auto count = node.params().get<std::uint64_t>("count", 10);
  const auto period = std::chrono::milliseconds(node.params().get<std::uint64_t>("period_ms", 5));
  const auto timeout = node.params().get<std::uint64_t>("timeout_ms", 0);
  std::string report = node.params().get<std::string>("report", "");
  if (const auto pos = report.find("{instance}"); pos != std::string::npos) {
    report.replace(pos, 10, std::to_string(node.instance()));
  }
  std::map<std::uint64_t, std::string> outcomes;
  std::uint64_t sent = 0;
  auto on_reply = [&](std::uint64_t n) {
    return [&, n](const brook::Reply<brook::test::TestAnswer>& r) {
      outcomes[n] =
          r.ok() ? "ok " + r.value().asker + " " + r.value().server : "error " + r.error();
      if (outcomes.size() < count) return;
      std::ofstream out(report);
      for (const auto& [k, v] : outcomes)
        out << k << " " << v << "\n";
      out << "END\n";
      node.stop();
    };
  };
  node.on_ready([&] {
    node.every(period, [&] {
      if (sent >= count) return;
      const std::uint64_t n = ++sent;
      const brook::test::TestQuery q{n, node.instance_name()};
      if (timeout > 0) {
        node.request<brook::test::TestAnswer>("out", q, std::chrono::milliseconds(timeout),
                                              on_reply(n));
      } else {
        node.request<brook::test::TestAnswer>("out", q, on_reply(n));
      }
    });
  });
  return node.run();
}
