// A real node and brook-directory under a fake systemd: $NOTIFY_SOCKET names a datagram socket
// this test owns, and the processes must say READY=1 once ready, pet the watchdog while their
// loop turns (and not while it is stopped), and say STOPPING=1 on SIGTERM. The health file
// (BROOK_HEALTH_FILE, the Kubernetes probes' source) follows the same loop.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>

#include "support/notify_socket.hpp"
#include "support/process.hpp"

namespace brook::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string health_state(const std::filesystem::path& file, long long* at = nullptr) {
  std::ifstream in(file);
  std::string state;
  long long t = 0;
  in >> state >> t;
  if (at != nullptr) *at = t;
  return state;
}

class Notify : public ::testing::Test {
 protected:
  Process start(std::vector<std::string> argv, const std::string& log) {
    Process::Options o{std::move(argv),
                       {{"NOTIFY_SOCKET", sock_.path()},
                        {"WATCHDOG_USEC", "400000"},
                        {"BROOK_HEALTH_FILE", health_.string()}},
                       dir_ / log};
    o.wait_ready = false;  // readiness must come through the notify socket alone
    return Process::start(std::move(o));
  }

  TempDir dir_;
  NotifySocket sock_{(dir_ / "notify").string()};
  std::filesystem::path health_ = dir_ / "health";
};

TEST_F(Notify, NodeSaysReadyPetsTheWatchdogAndSaysStopping) {
  Process directory = Process::start(
      {{bin("brook-directory"), "--bind", "tcp://127.0.0.1:*"}, {}, dir_ / "directory.log"});
  const auto file = dir_.write("topology.yaml", R"(
topology: notify
directory: {endpoints: [')" + directory.ready_value("router") +
                                                    R"('], heartbeat: 1s}
channels: {work: {external: true}, results: {external: true}}
nodes:
  sink: {exec: brook-test-sink, inputs: {in: work}, outputs: {out: results}}
)");
  Process node = start(
      {bin("brook-test-sink"), "--topology", file.string(), "--node", "sink", "--instance", "0"},
      "sink.log");
  const std::string ready = sock_.wait_for("READY=1", 15s);
  ASSERT_NE(ready, "") << node.log();
  EXPECT_NE(ready.find("STATUS=ready sink.0@"), std::string::npos) << ready;
  // Written from the loop's first turn ("starting"), rewritten every 200 ms.
  EXPECT_TRUE(health_state(health_) == "starting" || health_state(health_) == "ready");
  // WATCHDOG_USEC = 400 ms: petted every 200 ms (half), not once per 1 s heartbeat.
  const auto before = Clock::now();
  ASSERT_NE(sock_.wait_for("WATCHDOG=1", 2s), "") << node.log();
  ASSERT_NE(sock_.wait_for("WATCHDOG=1", 2s), "") << node.log();
  ASSERT_NE(sock_.wait_for("WATCHDOG=1", 2s), "") << node.log();
  EXPECT_LT(Clock::now() - before, 900ms);
  ASSERT_TRUE(wait_for([&] { return health_state(health_) == "ready"; }, 5s));

  // A loop that does not turn pets nothing and lets the health file age.
  node.signal(SIGSTOP);
  sock_.wait_for("(drain what was sent before the stop)", 300ms);
  long long at = 0;
  health_state(health_, &at);
  EXPECT_EQ(sock_.wait_for("WATCHDOG=1", 1500ms), "");
  long long still = 0;
  health_state(health_, &still);
  EXPECT_EQ(still, at);
  node.signal(SIGCONT);
  EXPECT_NE(sock_.wait_for("WATCHDOG=1", 2s), "") << node.log();

  node.signal(SIGTERM);
  const std::string stopping = sock_.wait_for("STOPPING=1", 10s);
  EXPECT_NE(stopping.find("STATUS=stopping (SIGTERM)"), std::string::npos) << stopping;
  EXPECT_EQ(node.wait(15s), 0) << node.log();
  directory.stop();
}

TEST_F(Notify, DirectorySaysReadyAndStopping) {
  Process directory = start({bin("brook-directory"), "--bind", "tcp://127.0.0.1:*"}, "dir.log");
  const std::string ready = sock_.wait_for("READY=1", 15s);
  ASSERT_NE(ready, "") << directory.log();
  EXPECT_NE(ready.find("STATUS=ready router=tcp://127.0.0.1:"), std::string::npos) << ready;
  EXPECT_NE(sock_.wait_for("WATCHDOG=1", 2s), "") << directory.log();
  ASSERT_TRUE(wait_for([&] { return health_state(health_) == "ready"; }, 5s));
  directory.signal(SIGTERM);
  EXPECT_NE(sock_.wait_for("STOPPING=1", 10s), "") << directory.log();
  EXPECT_EQ(directory.wait(10s), 0) << directory.log();
}

}  // namespace
}  // namespace brook::test
