// brook-test-source: emits `count` TestMsg on port "out" once ready, at `rate` per second
// (0 = as fast as backpressure allows), then stops if `exit_when_done`.
//
// `accepted_log`: a file getting the number of each message once emit() returned (written at
// once, so it survives SIGKILL). A restarted source reads it and continues after the last
// number, like a producer that knows what it handed over: a fault test checks that every number
// in it arrives.
//
// `retry_refused`: an emit() that throws brook::Error (a full journal disk) is tried again on the
// next tick instead of failing the node; each refusal prints "REFUSED <exception kind>: <what>"
// (the first of a run of them only) and "ACCEPTING AGAIN" when an emit() succeeds after one.
#include <fcntl.h>
#include <unistd.h>

#include <brook/node.hpp>
#include <fstream>
#include <iostream>

#include "test_msg.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  const auto count = node.params().get<std::uint64_t>("count", 1000);
  const auto rate = node.params().get<std::uint64_t>("rate", 0);
  const auto body_size = node.params().get<std::size_t>("body_size", 16);
  const auto body_text = node.params().get<std::string>("body_text", "");  // instead of 'x's
  const bool exit_when_done = node.params().get<bool>("exit_when_done", true);
  const auto key_space = node.params().get<std::uint64_t>("keys", 0);

  const auto accepted_log = node.params().get<std::string>("accepted_log", "");
  const bool retry_refused = node.params().get<bool>("retry_refused", false);

  const brook::Output<brook::test::TestMsg> out = node.output<brook::test::TestMsg>("out");
  brook::test::TestMsg msg;
  msg.source = node.instance_name();
  msg.body = body_text.empty() ? std::string(body_size, 'x') : body_text;
  std::uint64_t sent = 0;
  int accepted_fd = -1;
  if (!accepted_log.empty()) {
    std::ifstream in(accepted_log);
    for (std::uint64_t n = 0; in >> n;)
      sent = std::max(sent, n);
    accepted_fd = ::open(accepted_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (accepted_fd < 0) throw brook::Error("cannot open accepted_log " + accepted_log);
  }
  std::uint64_t sent_this_run = 0;  // paces `rate` from this incarnation's start
  std::string line;
  std::string key;
  bool refusing = false;
  // False when emit() refused the message (retry_refused): the caller tries again later.
  auto emit_one = [&](const brook::EmitOptions& opts) {
    if (!retry_refused) {
      out.emit(msg, opts);
      return true;
    }
    try {
      out.emit(msg, opts);
    } catch (const brook::Error& e) {
      if (!refusing) {
        const bool backpressure = dynamic_cast<const brook::BackpressureError*>(&e) != nullptr;
        std::cout << "REFUSED " << (backpressure ? "backpressure" : "error") << ": " << e.what()
                  << std::endl;
      }
      refusing = true;
      return false;
    }
    if (refusing) std::cout << "ACCEPTING AGAIN" << std::endl;
    refusing = false;
    return true;
  };
  auto send_some = [&](std::uint64_t how_many) {
    for (std::uint64_t i = 0; i < how_many && sent < count; ++i) {
      msg.n = sent + 1;
      brook::EmitOptions opts;
      if (key_space > 0) {
        key.assign(1, 'k');  // not "k" + ...: GCC 12 warns a false -Wrestrict on that at -O3
        key += std::to_string(msg.n % key_space);
        opts.key = key;
      }
      if (!emit_one(opts)) return;
      ++sent;
      ++sent_this_run;
      if (accepted_fd >= 0) {
        line = std::to_string(msg.n) + "\n";
        if (::write(accepted_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
          throw brook::Error("cannot write accepted_log " + accepted_log);
        }
      }
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
        if (due > sent_this_run) send_some(due - sent_this_run);
      });
    }
  });
  node.on_stop([&] { std::cout << "SENT " << sent << std::endl; });
  return node.run();
}
