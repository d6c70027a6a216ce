// Taps against a running producer: each tap's sockets are released when it leaves (unregisters
// or its lease lapses), and a producer serves at most kMaxTapsPerChannel taps per channel.
//
// Most taps here are registrations made by the test (a tap's directory entry and a PULL socket
// it binds), which is all a producer sees of a `brook tap`: that makes 500 of them come and go in
// seconds, where 500 `brook tap` processes would take minutes. A real `brook tap` runs too.
#include <dirent.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "runtime/output_port.hpp"
#include "support/cluster.hpp"
#include "support/command.hpp"
#include "support/process.hpp"

namespace brook::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kTopology = R"(
topology: taps
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s}
channels:
  work: {}
nodes:
  source:
    exec: brook-test-source
    outputs: {out: work}
    params: {count: 100000000, rate: 500}
  sink:
    exec: brook-test-sink
    inputs: {in: work}
    params: {report: '{DIR}/sink.txt'}
)";

std::size_t open_fds(pid_t pid) {
  std::size_t n = 0;
  DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (d == nullptr) return 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n;
}

// A tap as the producer sees it: a PULL socket it binds and a directory entry naming it.
class FakeTap {
 public:
  FakeTap(zmq::context_t& ctx, int id) : pull_(ctx, zmq::socket_type::pull) {
    pull_.set(zmq::sockopt::linger, 0);
    pull_.bind("tcp://127.0.0.1:*");
    reg_.node = "brook-tap-fake" + std::to_string(id);
    reg_.instance = 0;
    reg_.incarnation = "inc" + std::to_string(id);
    reg_.host = "localhost";
    reg_.pid = 1;
    reg_.registrations = {Registration{"work", Direction::kIn, Pattern::kPipeline,
                                       pull_.get(zmq::sockopt::last_endpoint), "port", true}};
  }
  void register_with(DirectoryClient& c, std::uint32_t lease_ms = 30000) {
    reg_.lease_ms = lease_ms;
    const auto r = c.request(reg_);
    ASSERT_TRUE(std::holds_alternative<AckReply>(r)) << reg_.node;
  }
  void unregister_with(DirectoryClient& c) {
    (void)c.request(UnregisterRequest{reg_.node, reg_.instance, reg_.incarnation});
  }
  // A copy arrived: the producer serves this tap.
  bool received() {
    zmq::message_t m;
    while (pull_.recv(m, zmq::recv_flags::dontwait))
      got_ = true;
    return got_;
  }

 private:
  zmq::socket_t pull_;
  RegisterRequest reg_;
  bool got_ = false;
};

class Taps : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.start_directory();
    cluster_.write_topology(kTopology);
    sink_ = cluster_.start_node("brook-test-sink", "sink");
    source_ = cluster_.start_node("brook-test-source", "source");
    ASSERT_TRUE(wait_for(
        [&] { return cluster_.counter("sink", "work", &ChannelCounters::received) > 0; }, 10s));
  }

  bool all_served(std::vector<std::unique_ptr<FakeTap>>& taps, std::chrono::milliseconds limit) {
    return wait_for(
        [&] {
          for (auto& t : taps)
            if (!t->received()) return false;
          return true;
        },
        limit);
  }

  bool no_taps_listed() {
    for (const auto& n : cluster_.live_instances())
      if (n.rfind("brook-tap-", 0) == 0) return false;
    return true;
  }

  Cluster cluster_;
  Process sink_;
  Process source_;
  zmq::context_t ctx_{1};
};

TEST_F(Taps, FiveHundredTapsComingAndGoingLeaveTheProducersFdsFlat) {
  const std::size_t before = open_fds(source_.pid());
  ASSERT_GT(before, 0u);
  const std::uint64_t received_before =
      cluster_.counter("sink", "work", &ChannelCounters::received);

  constexpr int kRounds = 50;
  constexpr int kPerRound = 10;  // under the bound, so every one is served
  std::size_t peak = before;
  int id = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::unique_ptr<FakeTap>> taps;
    // Every tenth round the taps leave by their lease lapsing, the others unregister.
    const bool lapse = round % 10 == 9;
    for (int k = 0; k < kPerRound; ++k) {
      taps.push_back(std::make_unique<FakeTap>(ctx_, id++));
      taps.back()->register_with(cluster_.client(), lapse ? 300 : 0);
    }
    ASSERT_TRUE(all_served(taps, 10s)) << "round " << round << ": the producer serves each tap\n"
                                       << source_.log();
    peak = std::max(peak, open_fds(source_.pid()));
    if (lapse) {
      ASSERT_TRUE(wait_for([&] { return no_taps_listed(); }, 10s)) << "round " << round;
    } else {
      for (auto& t : taps)
        t->unregister_with(cluster_.client());
    }
  }
  ASSERT_TRUE(wait_for([&] { return no_taps_listed(); }, 10s));
  EXPECT_TRUE(wait_for([&] { return open_fds(source_.pid()) <= before + 10; }, 10s))
      << "fds before: " << before << ", peak: " << peak
      << ", after 500 taps: " << open_fds(source_.pid());
  std::cerr << "source fds: before " << before << ", peak " << peak << ", after "
            << open_fds(source_.pid()) << "\n";
  EXPECT_TRUE(source_.running()) << source_.log();
  EXPECT_TRUE(wait_for(
      [&] {
        return cluster_.counter("sink", "work", &ChannelCounters::received) > received_before + 500;
      },
      10s))
      << "the real consumer is still served";

  // A real brook tap still gets copies afterwards, and its sockets go when it exits.
  const auto tap = run_command(
      {bin("brook"), "tap", "work", "--directory", cluster_.directory_endpoint(), "--count", "5"},
      30s);
  EXPECT_EQ(tap.code, 0) << tap.describe();
  EXPECT_TRUE(wait_for([&] { return open_fds(source_.pid()) <= before + 10; }, 10s))
      << "after a real tap: " << open_fds(source_.pid());
  EXPECT_EQ(source_.stop(), 0) << source_.log();
  EXPECT_EQ(sink_.stop(), 0) << sink_.log();
}

TEST_F(Taps, AProducerServesAtMostTheBoundAndLogsTheRefusal) {
  std::vector<std::unique_ptr<FakeTap>> taps;
  for (std::size_t k = 0; k < detail::kMaxTapsPerChannel; ++k) {
    taps.push_back(std::make_unique<FakeTap>(ctx_, static_cast<int>(k)));
    taps.back()->register_with(cluster_.client());
  }
  ASSERT_TRUE(all_served(taps, 10s)) << source_.log();
  FakeTap extra(ctx_, 999);
  extra.register_with(cluster_.client());
  const std::string line = "refusing tap brook-tap-fake999.0 on channel 'work': " +
                           std::to_string(detail::kMaxTapsPerChannel) + " taps already served";
  ASSERT_TRUE(wait_for([&] { return source_.log().find(line) != std::string::npos; }, 10s))
      << source_.log();
  EXPECT_FALSE(extra.received()) << "the refused tap gets nothing";

  // A tap that leaves frees its place for the next one.
  taps.front()->unregister_with(cluster_.client());
  FakeTap next(ctx_, 1000);
  next.register_with(cluster_.client());
  EXPECT_TRUE(wait_for([&] { return next.received(); }, 10s)) << source_.log();
  EXPECT_EQ(source_.stop(), 0) << source_.log();
  EXPECT_EQ(sink_.stop(), 0) << sink_.log();
}

}  // namespace
}  // namespace brook::test
