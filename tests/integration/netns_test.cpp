// The network-namespace test bed (tests/support/netns.hpp, scripts/netns): hosts reach each other
// across the bridge, a cut host is unreachable until healed, kill ends what runs inside a host.
// Skipped where namespaces cannot be made (not root).
#include "support/netns.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <zmq.hpp>

#include "support/command.hpp"
#include "support/process.hpp"

namespace brook::test {
namespace {

#define BROOK_NEED_NETNS(bed) \
  if (!(bed).available()) GTEST_SKIP() << (bed).why_unavailable()

// A message from host 1 to host 2 arrives within `timeout`.
bool received(zmq::socket_t& pull, const std::string& expected, std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{pull.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, timeout) == 0) return false;
  zmq::message_t m;
  return pull.recv(m, zmq::recv_flags::dontwait) && m.to_string() == expected;
}

TEST(NetnsBed, HostsTalkAcrossTheBridgeAndACutHostDoesNot) {
  NetnsBed bed(2);
  BROOK_NEED_NETNS(bed);
  // Each context's I/O threads start in its host: connects and accepts happen there.
  std::unique_ptr<zmq::context_t> ctx1;
  std::unique_ptr<zmq::context_t> ctx2;
  std::unique_ptr<zmq::socket_t> push;
  std::unique_ptr<zmq::socket_t> pull;
  bed.in_host(2, [&] {
    ctx2 = std::make_unique<zmq::context_t>(1);
    pull = std::make_unique<zmq::socket_t>(*ctx2, zmq::socket_type::pull);
    pull->set(zmq::sockopt::linger, 0);
    pull->bind("tcp://" + NetnsBed::address(2) + ":7001");
  });
  bed.in_host(1, [&] {
    ctx1 = std::make_unique<zmq::context_t>(1);
    push = std::make_unique<zmq::socket_t>(*ctx1, zmq::socket_type::push);
    push->set(zmq::sockopt::linger, 0);
    push->connect("tcp://" + NetnsBed::address(2) + ":7001");
  });
  (void)push->send(zmq::str_buffer("before"));
  EXPECT_TRUE(received(*pull, "before", 5s)) << "host 1 could not reach host 2 over the bridge";

  bed.cut(2);
  (void)push->send(zmq::str_buffer("during"));
  EXPECT_FALSE(received(*pull, "during", 1s)) << "a message crossed a cut link";
  bed.heal(2);
  // TCP retransmits what the cut held back.
  EXPECT_TRUE(received(*pull, "during", 10s)) << "nothing arrived after heal";
  push.reset();
  pull.reset();
}

TEST(NetnsBed, AddressesLiveOnlyInsideTheHosts) {
  NetnsBed bed(2);
  BROOK_NEED_NETNS(bed);
  std::vector<std::string> argv = bed.exec_prefix(2);
  argv.insert(argv.end(), {argv[0], "-o", "-4", "addr", "show"});  // ip netns exec H ip addr
  const auto inside = run_command(argv, 10s);
  ASSERT_EQ(inside.code, 0) << inside.describe();
  EXPECT_NE(inside.out.find("10.77.0.2/24"), std::string::npos) << inside.out;
  const auto outside = run_command({argv[0], "-o", "-4", "addr", "show"}, 10s);
  ASSERT_EQ(outside.code, 0) << outside.describe();
  EXPECT_EQ(outside.out.find("10.77.0."), std::string::npos) << outside.out;
}

TEST(NetnsBed, KillEndsEveryProcessInAHost) {
  NetnsBed bed(2);
  BROOK_NEED_NETNS(bed);
  TempDir dir;
  std::vector<std::string> argv = bed.exec_prefix(2);
  argv.insert(argv.end(), {"/bin/sleep", "600"});
  Process sleeper =
      Process::start({.argv = argv, .env = {}, .log = dir / "sleep.log", .wait_ready = false});
  ASSERT_TRUE(sleeper.running());
  bed.kill(2);
  EXPECT_EQ(sleeper.wait(10s), 128 + SIGKILL);
}

}  // namespace
}  // namespace brook::test
