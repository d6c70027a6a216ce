// Handler failures on an at-least-once channel: transient failures succeed on a retry, poison
// messages land in the dead-letter channel with the reason, and nothing is lost.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "support/cluster.hpp"

namespace brook::test {
namespace {

struct JournalLine {
  std::uint64_t n = 0;
  std::string reason;
};

std::vector<JournalLine> read_journal(const std::filesystem::path& file) {
  std::vector<JournalLine> out;
  std::ifstream f(file);
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream s(line);
    std::string source;
    JournalLine j;
    std::uint64_t seq = 0;
    std::string key;
    s >> source >> j.n >> seq >> key >> j.reason;
    if (j.reason == "-") j.reason.clear();
    out.push_back(j);
  }
  return out;
}

TEST(Retry, TransientFailuresRetryPoisonGoesToDeadLetters) {
  constexpr std::uint64_t kCount = 3000;
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: retry
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms, ttl: 1s}
channels:
  work: {retry: {max_attempts: 3, initial: 10ms, max: 100ms}, dead_letter: work-dead}
  work-dead: {}
nodes:
  source: {exec: brook-test-source, outputs: {out: work}, params: {count: 3000, rate: 3000}}
  worker: {exec: brook-test-sink, replicas: 2, inputs: {in: work},
           params: {fail_mod: 100, flaky_mod: 30, journal: "{DIR}/worker-{instance}.txt"}}
  graveyard: {exec: brook-test-sink, inputs: {in: work-dead}, params: {journal: "{DIR}/dead.txt"}}
)");
  auto graveyard = c.start_node("brook-test-sink", "graveyard");
  auto w0 = c.start_node("brook-test-sink", "worker", 0);
  auto w1 = c.start_node("brook-test-sink", "worker", 1);
  auto source = c.start_node("brook-test-source", "source");
  ASSERT_EQ(source.wait(60s), 0) << source.log();
  const std::uint64_t poison = kCount / 100;
  ASSERT_TRUE(wait_for([&] {
    return c.counter("graveyard", "work-dead", &ChannelCounters::received) >= poison;
  }, 30s)) << w0.log();
  EXPECT_EQ(w0.stop(), 0);
  EXPECT_EQ(w1.stop(), 0);
  EXPECT_EQ(graveyard.stop(), 0);

  std::set<std::uint64_t> handled;
  std::uint64_t duplicates = 0;
  for (const char* f : {"worker-0.txt", "worker-1.txt"}) {
    for (const auto& j : read_journal(c.dir() / f)) {
      if (!handled.insert(j.n).second) ++duplicates;
    }
  }
  std::set<std::uint64_t> dead;
  for (const auto& j : read_journal(c.dir() / "dead.txt")) {
    EXPECT_EQ(j.n % 100, 0u) << "only poison messages are dead-lettered";
    EXPECT_EQ(j.reason, "poison_message_" + std::to_string(j.n)) << "the reason travels along";
    dead.insert(j.n);
  }
  std::uint64_t lost = 0;
  std::uint64_t transient_ok = 0;
  for (std::uint64_t n = 1; n <= kCount; ++n) {
    const bool is_poison = n % 100 == 0;
    if (is_poison ? !dead.count(n) : !handled.count(n)) ++lost;
    if (!is_poison && n % 30 == 0 && handled.count(n)) ++transient_ok;
  }
  std::cout << "retries: " << kCount << " sent, " << handled.size() << " handled, " << transient_ok
            << " transient failures succeeded on retry, " << dead.size() << " dead-lettered, lost "
            << lost << ", duplicated " << duplicates << "\n";
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(dead.size(), poison);
  EXPECT_EQ(transient_ok, kCount / 30 - kCount / 300);  // multiples of 30 that are not of 100
}

}  // namespace
}  // namespace brook::test
