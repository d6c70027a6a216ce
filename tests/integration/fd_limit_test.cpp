// A node at its open-file limit (issue 16, item 9): connections held against its input used to
// make libzmq retry accept() in a tight loop (a CPU core busy for as long as they were held). The
// input now counts the failures (`accept_failed`), logs them with the fix and stops listening a
// while; once the connections are gone it takes producers again.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "support/cluster.hpp"
#include "support/command.hpp"

namespace brook::test {
namespace {

// User + system CPU time of a process, in clock ticks (/proc/PID/stat fields 14 and 15).
std::uint64_t cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string skip;
  for (int i = 3; i < 14; ++i)
    fields >> skip;  // state .. cmajflt
  std::uint64_t utime = 0;
  std::uint64_t stime = 0;
  fields >> utime >> stime;
  return utime + stime;
}

// The share of one CPU `pid` used over `window`.
double cpu_share(pid_t pid, std::chrono::milliseconds window) {
  const std::uint64_t before = cpu_ticks(pid);
  std::this_thread::sleep_for(window);  // measuring over a span is the point here
  const double ticks = static_cast<double>(cpu_ticks(pid) - before);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK)) /
         std::chrono::duration<double>(window).count();
}

TEST(FdLimit, ANodeAtItsFdLimitDoesNotSpinAndAcceptsAgainLater) {
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: fd-limit
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms}
channels:
  work: {}
nodes:
  source:
    exec: brook-test-source
    outputs: {out: work}
    params: {count: 200, rate: 1000}
  sink:
    exec: brook-test-sink
    inputs: {in: work}
    params: {report: "{DIR}/sink-{instance}.txt"}
)");
  // 64 descriptors: the sink needs about 30 of them to run.
  const std::string sink_argv = bin("brook-test-sink") + " --topology '" + c.topology().string() +
                                "' --node sink --instance 0 --directory " + c.directory_endpoint() +
                                " --log-level info";
  auto sink = Process::start(
      {{"/bin/sh", "-c", "ulimit -n 64 && exec " + sink_argv}, {}, c.dir() / "sink.log"});
  const auto entries = c.client().resolve("work").entries;
  ASSERT_EQ(entries.size(), 1u);
  const std::string input = entries[0].reg.endpoint;

  std::vector<int> held;
  for (int i = 0; i < 100; ++i) {
    if (const int fd = connect_tcp(input); fd >= 0) held.push_back(fd);
  }
  const auto failures = [&] { return c.counter("sink", "work", &ChannelCounters::accept_failed); };
  ASSERT_TRUE(wait_for([&] { return failures() > 0; }, 10s)) << sink.log();
  const double share = cpu_share(sink.pid(), 3s);
  std::cerr << "sink CPU with " << held.size()
            << " connections held at its fd limit: " << static_cast<int>(share * 100)
            << " %, accept_failed " << failures() << "\n";
  EXPECT_LT(share, 0.15) << sink.log();

  for (const int fd : held)
    ::close(fd);
  // A producer gets in again: every message arrives.
  auto source = c.start_node("brook-test-source", "source");
  ASSERT_EQ(source.wait(30s), 0) << source.log();
  EXPECT_TRUE(
      wait_for([&] { return c.counter("sink", "work", &ChannelCounters::received) >= 200; }, 15s))
      << sink.log();
  ASSERT_EQ(sink.stop(), 0) << sink.log();
  const std::string log = sink.log();
  EXPECT_NE(log.find("input 'in' (channel 'work') cannot accept connections at " + input +
                     ": Too many open files (the open-file limit, ulimit -n, is 64)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("Raise the limit (ulimit -n"), std::string::npos) << log;
}

}  // namespace
}  // namespace brook::test
