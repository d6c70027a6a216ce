// Exactly-once effects of a stateful node (docs/reliability.md, "Exactly-once effects"): a
// counter keeps a count per key in its state store and emits each new count; it is SIGKILLed
// again and again mid-stream and restarted. Every key's counts must reach the sink as 1, 2, 3...
// once each: an input handled twice would skip a number, a lost commit or output would leave
// one out. Prints the counts like a total-order checker: inputs, outputs, lost, duplicated,
// wrong.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <set>

#include "support/cluster.hpp"
#include "support/small_disk.hpp"

namespace brook::test {
namespace {

constexpr std::uint64_t kCount = 20000;
constexpr std::uint64_t kKeys = 16;

struct Effects {
  std::uint64_t outputs = 0;
  std::uint64_t lost = 0;        // a count 1..n a key never got
  std::uint64_t duplicated = 0;  // a count a key got more than once
  std::uint64_t wrong = 0;       // a count beyond the key's inputs (an input counted twice)
};

Effects check(const std::filesystem::path& journal) {
  std::map<std::string, std::map<std::uint64_t, int>> got;  // key -> count -> times
  Effects e;
  for (const Received& m : read_report(journal).messages) {
    ++got[m.source][m.n];
    ++e.outputs;
  }
  // The source's message n has key k<n % kKeys>: each key has kCount / kKeys inputs.
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    const auto& counts = got["k" + std::to_string(k)];
    for (std::uint64_t n = 1; n <= kCount / kKeys; ++n) {
      const auto it = counts.find(n);
      if (it == counts.end()) {
        ++e.lost;
      } else if (it->second > 1) {
        e.duplicated += static_cast<std::uint64_t>(it->second - 1);
      }
    }
    for (const auto& [n, times] : counts)
      e.wrong += n > kCount / kKeys ? static_cast<std::uint64_t>(times) : 0;
  }
  return e;
}

Effects run_with_kills(bool memory, int kills, std::uint64_t& replays) {
  Cluster c;
  c.start_directory();
  c.write_topology(std::string(R"(
topology: stateful
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms, ttl: 1s}
state_dir: "{DIR}/state"
channels:
  work: {ack_timeout: 1s}
  counts: {ack_timeout: 1s}
nodes:
  source: {exec: brook-test-source, drain_timeout: 60s,
           outputs: [{port: out, channel: work, durable: true}],
           params: {count: 20000, rate: 4000, keys: 16}}
  counter: {exec: brook-test-counter, drain_timeout: 10s, inputs: {in: work},
            outputs: [{port: out, channel: counts, durable: true}],
            params: {memory: )") +
                   (memory ? "true" : "false") + R"(}}
  sink: {exec: brook-test-sink, inputs: {in: counts}, params: {journal: "{DIR}/journal.txt"}}
)");
  auto sink = c.start_node("brook-test-sink", "sink");
  auto counter = c.start_node("brook-test-counter", "counter");
  auto source = c.start_node("brook-test-source", "source");
  replays = 0;
  // Spread over the run: the source emits 4000/s for 5 s.
  c.kill_repeatedly(
      counter, "brook-test-counter", "counter", kills, kCount,
      [&] { return c.counter("sink", "counts", &ChannelCounters::received); },
      [&](Process& restarted) {
        if (restarted.log().find("never committed; discarding") != std::string::npos) ++replays;
      });
  // It emits for 5 s. Its exit must not wait drain_timeout (60 s) for messages queued to a
  // killed counter's connection.
  EXPECT_EQ(source.wait(30s), 0) << source.log();
  // Not an assertion: what is missing shows in the counts below.
  (void)wait_for([&] { return c.counter("sink", "counts", &ChannelCounters::received) >= kCount; },
                 30s);
  EXPECT_EQ(counter.stop(), 0) << counter.log();
  EXPECT_EQ(sink.stop(), 0) << sink.log();
  return check(c.dir() / "journal.txt");
}

TEST(State, AStatefulNodeKilledRepeatedlyHasEveryEffectExactlyOnce) {
  std::uint64_t discards = 0;
  const Effects e = run_with_kills(false, 5, discards);
  std::cout << "stateful counter SIGKILLed 5 times: inputs " << kCount << ", outputs " << e.outputs
            << ", lost " << e.lost << ", duplicated " << e.duplicated << ", wrong " << e.wrong
            << " (restarts that discarded uncommitted output: " << discards << ")\n";
  EXPECT_EQ(e.lost, 0u);
  EXPECT_EQ(e.duplicated, 0u);
  EXPECT_EQ(e.wrong, 0u);
  EXPECT_EQ(e.outputs, kCount);
}

// A full disk under a stateful node: its journal cannot roll to a new segment, so its passes
// cannot commit. Each failed pass is undone and its inputs given back (declined); once there is
// room again every count still arrives exactly once.
TEST(State, AFullDiskUndoesPassesAndLosesNothing) {
  Cluster c;
  std::string why_not;
  // Declared after the cluster: unmounted before its temp dir is removed.
  const auto disk = SmallDisk::mount(c.dir() / "disk", 40 << 20, why_not);
  if (!disk) GTEST_SKIP() << why_not;
  c.start_directory();
  c.write_topology(R"(
topology: statefull
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms, ttl: 1s}
state_dir: "{DIR}/disk/state"
channels:
  work: {ack_timeout: 1s}
  counts: {ack_timeout: 1s}
nodes:
  source: {exec: brook-test-source, drain_timeout: 60s, outputs: {out: work},
           params: {count: 20000, rate: 4000, keys: 16, body_size: 1000, retry_refused: true}}
  counter: {exec: brook-test-counter, drain_timeout: 10s, inputs: {in: work},
            outputs: [{port: out, channel: counts, durable: true}]}
  sink: {exec: brook-test-sink, inputs: {in: counts}, params: {journal: "{DIR}/journal.txt"}}
)");
  auto sink = c.start_node("brook-test-sink", "sink");
  auto counter = c.start_node("brook-test-counter", "counter");
  auto source = c.start_node("brook-test-source", "source", 0, {}, true);
  auto received = [&] { return c.counter("sink", "counts", &ChannelCounters::received); };
  ASSERT_TRUE(wait_for([&] { return received() >= 2000; }, 20s));
  // The counter's first 16 MiB journal segment is reserved; the filler takes the rest.
  const std::uint64_t filler = disk->fill();
  ASSERT_TRUE(wait_for(
      [&] { return counter.log().find("could not commit the state store") != std::string::npos; },
      30s))
      << "filler " << filler << " bytes\n"
      << counter.log();
  EXPECT_TRUE(counter.running()) << counter.log();
  // Counted in the heartbeats that follow.
  std::uint64_t declined = 0;
  EXPECT_TRUE(wait_for(
      [&] { return (declined = c.counter("counter", "work", &ChannelCounters::declined)) > 0; },
      5s));
  disk->unfill();
  EXPECT_EQ(source.wait(60s), 0) << source.log();
  (void)wait_for([&] { return received() >= kCount; }, 30s);
  EXPECT_EQ(counter.stop(), 0) << counter.log();
  EXPECT_EQ(sink.stop(), 0) << sink.log();
  const Effects e = check(c.dir() / "journal.txt");
  std::cout << "stateful counter on a full disk (filler " << filler << " bytes): declined "
            << declined << "; inputs " << kCount << ", outputs " << e.outputs << ", lost " << e.lost
            << ", duplicated " << e.duplicated << ", wrong " << e.wrong << "\n";
  EXPECT_EQ(e.lost, 0u);
  EXPECT_EQ(e.duplicated, 0u);
  EXPECT_EQ(e.wrong, 0u);
  EXPECT_EQ(e.outputs, kCount);
}

// The same run with the counts in memory, for comparison (run with
// --gtest_also_run_disabled_tests): a restarted counter starts again from 0, and re-sent
// inputs are counted again.
TEST(State, DISABLED_WithoutTheStoreTheSameRunCountsWrong) {
  std::uint64_t discards = 0;
  const Effects e = run_with_kills(true, 5, discards);
  std::cout << "counter in memory SIGKILLed 5 times: inputs " << kCount << ", outputs " << e.outputs
            << ", lost " << e.lost << ", duplicated " << e.duplicated << ", wrong " << e.wrong
            << "\n";
  EXPECT_GT(e.lost + e.duplicated + e.wrong, 0u);
}

}  // namespace
}  // namespace brook::test
