// Full disks (issue 16, item 7): a durable output whose journal's file system fills up refuses
// emit() with BackpressureError instead of crashing the node, a producer restarted on the full
// disk starts and re-sends its journal, and both accept messages again once space returns;
// nothing emit() accepted is lost. The journal lives on a 40 MiB tmpfs filled by a file.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <set>

#include "support/cluster.hpp"
#include "support/journals.hpp"
#include "support/small_disk.hpp"

namespace brook::test {
namespace {

namespace fs = std::filesystem;

TEST(FullDisk, ADurableOutputRefusesEmitsWhileItsDiskIsFullAndRecovers) {
  constexpr std::uint64_t kCount = 30000;
  Cluster c;
  std::string why_not;
  // Declared after the cluster: unmounted before its temp dir is removed.
  const auto disk = SmallDisk::mount(c.dir() / "disk", 40 << 20, why_not);
  if (!disk) GTEST_SKIP() << why_not;
  c.start_directory();
  c.write_topology(R"(
topology: fulldisk
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms, ttl: 1s}
state_dir: "{DIR}/disk/state"
channels:
  work: {ack_timeout: 2s}
nodes:
  source: {exec: brook-test-source, drain_timeout: 30s,
           outputs: [{port: out, channel: work, durable: true}],
           params: {count: 30000, rate: 10000, body_size: 1000, retry_refused: true,
                    accepted_log: "{DIR}/accepted.txt"}}
  sink: {exec: brook-test-sink, inputs: {in: work}, params: {journal: "{DIR}/journal.txt"}}
)");
  auto sink = c.start_node("brook-test-sink", "sink");
  auto first = c.start_node("brook-test-source", "source");
  auto received = [&] { return c.counter("sink", "work", &ChannelCounters::received); };
  ASSERT_TRUE(wait_for([&] { return received() >= 1000; }, 20s));

  // The first 16 MiB segment is reserved; the filler takes the rest, so the next roll fails.
  const std::uint64_t filler = disk->fill();
  ASSERT_TRUE(wait_for([&] { return first.log().find("REFUSED") != std::string::npos; }, 30s))
      << "filler " << filler << " bytes\n"
      << first.log();
  EXPECT_NE(first.log().find("REFUSED backpressure: "), std::string::npos) << first.log();
  // Everything accepted before the disk filled is delivered and acknowledged, and the
  // acknowledgements do not bring the producer down.
  ASSERT_TRUE(wait_for(
      [&] {
        return received() >= read_numbers(c.dir() / "accepted.txt").size() || !first.running();
      },
      20s));
  ASSERT_TRUE(wait_for(
      [&] {
        return c.counter("source", "work", &ChannelCounters::in_flight) == 0 || !first.running();
      },
      20s));
  ASSERT_TRUE(first.running()) << first.log();

  // A crash while the disk is full: the next incarnation starts on the full disk, re-sends what
  // its journal holds and refuses new messages until there is room.
  first.signal(SIGKILL);
  ASSERT_TRUE(wait_for([&] { return !first.running(); }, 10s));
  auto second = c.start_node("brook-test-source", "source");
  ASSERT_TRUE(wait_for([&] { return second.log().find("REFUSED") != std::string::npos; }, 20s))
      << second.log();
  EXPECT_NE(second.log().find("REFUSED backpressure: "), std::string::npos) << second.log();
  EXPECT_TRUE(second.running()) << second.log();

  disk->unfill();
  ASSERT_EQ(second.wait(90s), 0) << second.log();
  EXPECT_NE(second.log().find("ACCEPTING AGAIN"), std::string::npos) << second.log();
  (void)wait_for([&] { return received() >= kCount; }, 30s);
  ASSERT_EQ(sink.stop(), 0) << sink.log();

  const std::set<std::uint64_t> accepted = read_numbers(c.dir() / "accepted.txt");
  std::set<std::uint64_t> arrived;
  for (const Received& m : read_report(c.dir() / "journal.txt").messages)
    arrived.insert(m.n);
  std::uint64_t lost = 0;
  for (const auto n : accepted)
    lost += arrived.count(n) == 0 ? 1 : 0;
  std::cout << "full disk: filler " << filler << " bytes; accepted " << accepted.size()
            << ", arrived " << arrived.size() << ", lost " << lost << "\n";
  EXPECT_EQ(accepted.size(), kCount);
  EXPECT_EQ(lost, 0u);
}

}  // namespace
}  // namespace brook::test
