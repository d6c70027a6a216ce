// brook-test-source: emits `count` TestMsg on port "out" once ready, at `rate` per second
// (0 = as fast as backpressure allows), then stops if `exit_when_done`.
#include <brook/node.hpp>

#include <iostream>

#include "test_msg.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  const auto count = node.params().get<std::uint64_t>("count", 1000);
  const auto rate = node.params().get<std::uint64_t>("rate", 0);
  const auto body_size = node.params().get<std::size_t>("body_size", 16);
  const bool exit_when_done = node.params().get<bool>("exit_when_done", true);
  const auto key_space = node.params().get<std::uint64_t>("keys", 0);

  brook::test::TestMsg msg;
  msg.source = node.instance_name();
  msg.body.assign(body_size, 'x');
  std::uint64_t sent = 0;
  std::string key;
  auto send_some = [&](std::uint64_t how_many) {
    for (std::uint64_t i = 0; i < how_many && sent < count; ++i) {
      msg.n = sent + 1;
      brook::EmitOptions opts;
      if (key_space > 0) {
        key = "k" + std::to_string(msg.n % key_space);
        opts.key = key;
      }
      node.emit("out", msg, opts);
      ++sent;
    }
    if (sent == count && exit_when_done) node.stop();
  };
  node.on_ready([&] {
    if (rate == 0) {
      node.every(std::chrono::milliseconds(0), [&] { send_some(1000); });
    } else {
      // 1 ms ticks; carry the fraction so low rates are exact over time.
      auto start = std::chrono::steady_clock::now();
      node.every(std::chrono::milliseconds(1), [&, start] {
        const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - start);
        const std::uint64_t due = static_cast<std::uint64_t>(elapsed.count()) * rate / 1000000;
        if (due > sent) send_some(due - sent);
      });
    }
  });
  node.on_stop([&] { std::cout << "SENT " << sent << std::endl; });
  return node.run();
}
