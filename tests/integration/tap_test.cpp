// Taps against a running producer: each tap's sockets are released when it leaves (unregisters
// or its lease lapses), and a producer serves at most kMaxTapsPerChannel taps per channel and
// tells the next one, so a `brook tap` beyond the bound exits 1 saying so.
//
// Most taps here are registrations made by the test (a tap's directory entry and a PULL socket
// it binds), which is all a producer sees of a `brook tap`: that makes 500 of them come and go in
// seconds, where 500 `brook tap` processes would take minutes. A real `brook tap` runs too.
#include <dirent.h>
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "runtime/output_port.hpp"
#include "support/cluster.hpp"
#include "support/command.hpp"
#include "support/process.hpp"
#include "wire/control_frames.hpp"

namespace brook::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kTopology = R"(
topology: taps
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s}
channels:
  work: {}
  news: {pattern: pubsub}
nodes:
  source:
    exec: brook-test-source
    outputs: {out: work}
    params: {count: 100000000, rate: 500}
  sink:
    exec: brook-test-sink
    inputs: {in: work}
    params: {report: '{DIR}/sink.txt'}
  announcer:
    exec: brook-test-source
    outputs: {out: news}
    params: {count: 100000000, rate: 500}
  listener:
    exec: brook-test-sink
    inputs: {in: news}
    params: {report: '{DIR}/listener.txt'}
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
  FakeTap(zmq::context_t& ctx, int id, Pattern pattern = Pattern::kPipeline)
      : pull_(ctx, pattern == Pattern::kPubsub ? zmq::socket_type::sub : zmq::socket_type::pull) {
    pull_.set(zmq::sockopt::linger, 0);
    if (pattern == Pattern::kPubsub) pull_.set(zmq::sockopt::subscribe, "");
    pull_.bind("tcp://127.0.0.1:*");
    reg_.topology = "taps";
    reg_.node = "brook-tap-fake" + std::to_string(id);
    reg_.instance = 0;
    reg_.incarnation = "inc" + std::to_string(id);
    reg_.host = "localhost";
    reg_.pid = 1;
    reg_.registrations = {Registration{pattern == Pattern::kPubsub ? "news" : "work",
                                       Direction::kIn, pattern,
                                       pull_.get(zmq::sockopt::last_endpoint), "port", true}};
  }
  void register_with(DirectoryClient& c, std::uint32_t lease_ms = 30000) {
    reg_.lease_ms = lease_ms;
    const auto r = c.request(reg_);
    ASSERT_TRUE(std::holds_alternative<AckReply>(r)) << reg_.node;
  }
  void unregister_with(DirectoryClient& c) {
    (void)c.request(UnregisterRequest{reg_.node, reg_.instance, reg_.incarnation, reg_.topology});
  }
  // A copy arrived: the producer serves this tap.
  bool received() {
    read();
    return got_;
  }
  // A tap refusal arrived (docs/wire.md, "Taps"): the producer will not serve this tap.
  bool refused() {
    read();
    return refused_;
  }

 private:
  void read() {
    zmq::message_t m;
    while (pull_.recv(m, zmq::recv_flags::dontwait)) {
      const std::string_view bytes(static_cast<const char*>(m.data()), m.size());
      if (bytes.starts_with(detail::tap_refusal_prefix())) {
        refused_ = true;
      } else {
        got_ = true;
      }
    }
  }

  zmq::socket_t pull_;
  RegisterRequest reg_;
  bool got_ = false;
  bool refused_ = false;
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

  // `rounds` of `per_round` taps of `pattern` against `producer`; returns the producer's fds
  // (before, peak, after).
  std::array<std::size_t, 3> churn(Process& producer, Pattern pattern, int rounds, int per_round) {
    const std::size_t before = open_fds(producer.pid());
    std::size_t peak = before;
    int id = 0;
    for (int round = 0; round < rounds; ++round) {
      std::vector<std::unique_ptr<FakeTap>> taps;
      // Every tenth round the taps leave by their lease lapsing, the others unregister.
      const bool lapse = round % 10 == 9;
      for (int k = 0; k < per_round; ++k) {
        taps.push_back(std::make_unique<FakeTap>(ctx_, id++, pattern));
        taps.back()->register_with(cluster_.client(), lapse ? 300 : 30000);
      }
      EXPECT_TRUE(all_served(taps, 10s)) << "round " << round << ": the producer serves each tap\n"
                                         << producer.log();
      peak = std::max(peak, open_fds(producer.pid()));
      if (lapse) {
        EXPECT_TRUE(wait_for([&] { return no_taps_listed(); }, 10s)) << "round " << round;
      } else {
        for (auto& t : taps)
          t->unregister_with(cluster_.client());
      }
      if (::testing::Test::HasFailure()) break;
    }
    EXPECT_TRUE(wait_for([&] { return no_taps_listed(); }, 10s));
    (void)wait_for([&] { return open_fds(producer.pid()) <= before + 10; }, 10s);
    return {before, peak, open_fds(producer.pid())};
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
  const std::uint64_t received_before =
      cluster_.counter("sink", "work", &ChannelCounters::received);
  // 50 rounds of 10, under the bound, so every one is served.
  const auto [before, peak, after] = churn(source_, Pattern::kPipeline, 50, 10);
  EXPECT_LE(after, before + 10) << "fds before: " << before << ", peak: " << peak
                                << ", after 500 taps: " << after;
  std::cerr << "source fds: before " << before << ", peak " << peak << ", after " << after << "\n";
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

TEST_F(Taps, PubsubTapsComingAndGoingLeaveThePublishersFdsFlat) {
  auto listener = cluster_.start_node("brook-test-sink", "listener");
  auto announcer = cluster_.start_node("brook-test-source", "announcer");
  const auto [before, peak, after] = churn(announcer, Pattern::kPubsub, 20, 10);
  EXPECT_LE(after, before + 10) << "fds before: " << before << ", peak: " << peak
                                << ", after 200 taps: " << after;
  std::cerr << "announcer fds: before " << before << ", peak " << peak << ", after " << after
            << "\n";
  EXPECT_TRUE(announcer.running()) << announcer.log();
  EXPECT_EQ(announcer.stop(), 0) << announcer.log();
  EXPECT_EQ(listener.stop(), 0) << listener.log();
}

// Registers kMaxTapsPerChannel taps of `pattern` and waits until `producer` serves each.
std::vector<std::unique_ptr<FakeTap>> fill_bound(Process& producer, Cluster& cluster,
                                                 zmq::context_t& ctx, Pattern pattern) {
  std::vector<std::unique_ptr<FakeTap>> taps;
  for (std::size_t k = 0; k < detail::kMaxTapsPerChannel; ++k) {
    taps.push_back(std::make_unique<FakeTap>(ctx, static_cast<int>(k), pattern));
    taps.back()->register_with(cluster.client());
  }
  EXPECT_TRUE(wait_for(
      [&] {
        for (auto& t : taps)
          if (!t->received()) return false;
        return true;
      },
      10s))
      << producer.log();
  return taps;
}

// Fills `producer`'s bound with taps of `pattern`, checks the next is refused (logged, told,
// sent nothing else) and that a place freed by a tap leaving serves the next one.
void check_bound(Process& producer, Cluster& cluster, zmq::context_t& ctx, Pattern pattern,
                 const std::string& channel) {
  auto taps = fill_bound(producer, cluster, ctx, pattern);
  ASSERT_FALSE(::testing::Test::HasFailure());
  FakeTap extra(ctx, 999, pattern);
  extra.register_with(cluster.client());
  const std::string line = "refusing tap brook-tap-fake999.0 on channel '" + channel +
                           "': " + std::to_string(detail::kMaxTapsPerChannel) +
                           " taps already served";
  ASSERT_TRUE(wait_for([&] { return producer.log().find(line) != std::string::npos; }, 10s))
      << producer.log();
  EXPECT_TRUE(wait_for([&] { return extra.refused(); }, 10s)) << "the refused tap is told";
  EXPECT_FALSE(extra.received()) << "the refused tap gets nothing else";

  taps.front()->unregister_with(cluster.client());
  FakeTap next(ctx, 1000, pattern);
  next.register_with(cluster.client());
  EXPECT_TRUE(wait_for([&] { return next.received(); }, 10s)) << producer.log();
}

TEST_F(Taps, AProducerServesAtMostTheBoundAndLogsTheRefusal) {
  check_bound(source_, cluster_, ctx_, Pattern::kPipeline, "work");
  EXPECT_EQ(source_.stop(), 0) << source_.log();
  EXPECT_EQ(sink_.stop(), 0) << sink_.log();
}

TEST_F(Taps, APublisherServesAtMostTheBoundAndLogsTheRefusal) {
  auto listener = cluster_.start_node("brook-test-sink", "listener");
  auto announcer = cluster_.start_node("brook-test-source", "announcer");
  check_bound(announcer, cluster_, ctx_, Pattern::kPubsub, "news");
  EXPECT_EQ(announcer.stop(), 0) << announcer.log();
  EXPECT_EQ(listener.stop(), 0) << listener.log();
}

// A real `brook tap` beyond the bound: the producer tells it, and it exits 1 naming the bound.
void check_refused_tap(Process& producer, Cluster& cluster, zmq::context_t& ctx, Pattern pattern,
                       const std::string& channel) {
  auto taps = fill_bound(producer, cluster, ctx, pattern);
  ASSERT_FALSE(::testing::Test::HasFailure());
  const auto started = std::chrono::steady_clock::now();
  const auto tap = run_command({bin("brook"), "tap", channel, "--directory",
                                cluster.directory_endpoint(), "--duration", "30s"},
                               60s);
  EXPECT_EQ(tap.code, 1) << tap.describe();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 15s) << "exits once refused";
  EXPECT_NE(tap.err.find("refused this tap of channel '" + channel + "': it already serves " +
                         std::to_string(detail::kMaxTapsPerChannel) +
                         " taps, the most one producer serves per channel (kMaxTapsPerChannel)"),
            std::string::npos)
      << tap.describe();
  // The taps that were there are still served.
  for (auto& t : taps)
    EXPECT_FALSE(t->refused());
}

TEST_F(Taps, ATapBeyondTheBoundIsToldAndExitsNonZero) {
  check_refused_tap(source_, cluster_, ctx_, Pattern::kPipeline, "work");
  EXPECT_EQ(source_.stop(), 0) << source_.log();
  EXPECT_EQ(sink_.stop(), 0) << sink_.log();
}

TEST_F(Taps, ATapOfAPubsubChannelBeyondTheBoundIsToldAndExitsNonZero) {
  auto listener = cluster_.start_node("brook-test-sink", "listener");
  auto announcer = cluster_.start_node("brook-test-source", "announcer");
  check_refused_tap(announcer, cluster_, ctx_, Pattern::kPubsub, "news");
  EXPECT_EQ(announcer.stop(), 0) << announcer.log();
  EXPECT_EQ(listener.stop(), 0) << listener.log();
}

}  // namespace
}  // namespace brook::test
