// brook-test-sink: records every TestMsg received on port "in" and, if the node has an output
// port "out", forwards it. On exit writes a report: one "source n seq" line per message, then
// "END received=R".
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <brook/node.hpp>
#include <fstream>
#include <thread>

#include "test_msg.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  std::string report = node.params().get<std::string>("report", "");
  if (const auto pos = report.find("{instance}"); pos != std::string::npos) {
    report.replace(pos, 10, std::to_string(node.instance()));
  }
  const auto delay_us = node.params().get<std::uint64_t>("delay_us", 0);
  // journal: one "source n seq key reason" line per message ("-" for none), written before the
  // handler returns (so before the ack): survives SIGKILL, so a fault test can tell what a killed
  // replica handled.
  std::string journal = node.params().get<std::string>("journal", "");
  if (const auto pos = journal.find("{instance}"); pos != std::string::npos) {
    journal.replace(pos, 10, std::to_string(node.instance()));
  }
  const int journal_fd =
      journal.empty() ? -1 : ::open(journal.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  // Unbound, and emit() does nothing, when the topology gives the sink no "out".
  const brook::Output<brook::test::TestMsg> out =
      node.output<brook::test::TestMsg>("out", brook::optional_port);
  // Failure injection: message n with n % fail_mod == 0 always throws (poison); with
  // n % flaky_mod == 0 it throws on its first attempt only (transient).
  const auto fail_mod = node.params().get<std::uint64_t>("fail_mod", 0);
  const auto flaky_mod = node.params().get<std::uint64_t>("flaky_mod", 0);
  // forward_first: forward before the failure checks, so a failing attempt has emitted already.
  const bool forward_first = node.params().get<bool>("forward_first", false);

  struct Seen {
    std::string source;
    std::uint64_t n;
    std::uint64_t seq;
    std::string key;
  };
  // timing: writes "received first_ns last_ns" (steady clock) at exit, for bench/ throughput.
  const std::string timing = node.params().get<std::string>("timing", "");
  std::int64_t first_ns = 0;
  std::int64_t last_ns = 0;
  std::uint64_t count = 0;
  std::vector<Seen> seen;
  seen.reserve(100000);
  node.on<brook::test::TestMsg>(
      "in", [&](const brook::test::TestMsg& m, const brook::Message& msg) {
        if (!timing.empty()) {
          last_ns = std::chrono::steady_clock::now().time_since_epoch().count();
          if (count++ == 0) first_ns = last_ns;
        }
        if (forward_first) out.emit(m);
        if (fail_mod > 0 && m.n % fail_mod == 0)
          throw brook::Error("poison message " + std::to_string(m.n));
        if (flaky_mod > 0 && m.n % flaky_mod == 0 && msg.attempt() == 1) {
          throw brook::Error("transient failure on " + std::to_string(m.n));
        }
        seen.push_back({m.source, m.n, msg.id().seq, std::string(msg.key().value_or(""))});
        if (journal_fd >= 0) {
          std::string reason(msg.header("dead-letter-error"));
          std::replace(reason.begin(), reason.end(), ' ', '_');
          const std::string key(msg.key().value_or("-"));
          const std::string line = m.source + " " + std::to_string(m.n) + " " +
                                   std::to_string(msg.id().seq) + " " + key + " " +
                                   (reason.empty() ? "-" : reason) + "\n";
          if (::write(journal_fd, line.data(), line.size()) < 0)
            throw brook::Error("journal write failed");
        }
        if (delay_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
        if (!forward_first) out.emit(m);
      });
  const int code = node.run();
  if (!timing.empty()) {
    std::ofstream(timing) << count << " " << first_ns << " " << last_ns << "\n";
  }
  if (!report.empty()) {
    std::ofstream out(report + ".tmp");
    for (const auto& s : seen) {
      out << s.source << " " << s.n << " " << s.seq << (s.key.empty() ? "" : " " + s.key) << "\n";
    }
    out << "END received=" << seen.size() << "\n";
    out.close();
    std::rename((report + ".tmp").c_str(), report.c_str());
  }
  return code;
}
