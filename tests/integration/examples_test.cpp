// The examples' nodes as a user runs them: real processes and a real directory.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "support/cluster.hpp"

namespace brook::test {
namespace {

// wordcount-reader reads a file in a blocking thread and hands each line to its loop with
// node.post(): every line must reach the tally exactly once, also when the file is longer than
// what the reader may hand over before the loop catches up (1000 lines).
TEST(WordcountReader, SendsEveryLineOfAFileOnce) {
  constexpr std::uint64_t kLines = 5000;
  Cluster c;
  c.start_directory();
  std::uint64_t total_words = 0;
  {
    std::ofstream f(c.dir() / "lines.txt");
    for (std::uint64_t i = 1; i <= kLines; ++i) {
      for (std::uint64_t w = 0; w <= i % 5; ++w)
        f << (w ? " " : "") << "w" << w;
      f << "\n";
      total_words += i % 5 + 1;
    }
  }
  c.write_topology(R"(
topology: wordcount-file
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s}
channels:
  lines: {}
  counts: {}
nodes:
  reader: {exec: wordcount-reader, outputs: {out: lines}, params: {file: '{DIR}/lines.txt'}}
  counter: {exec: wordcount-counter, replicas: 2, inputs: {in: lines}, outputs: {out: counts}}
  tally: {exec: wordcount-tally, inputs: {in: counts}, params: {report: '{DIR}/report.txt'}}
)");
  auto tally = c.start_node("wordcount-tally", "tally");
  auto counter0 = c.start_node("wordcount-counter", "counter", 0);
  auto counter1 = c.start_node("wordcount-counter", "counter", 1);
  auto reader = c.start_node("wordcount-reader", "reader");
  ASSERT_EQ(reader.wait(60s), 0) << reader.log();  // it stops itself after the last line
  ASSERT_TRUE(wait_for(
      [&] { return c.counter("tally", "counts", &ChannelCounters::received) >= kLines; }, 30s))
      << tally.log();
  EXPECT_EQ(counter0.stop(), 0);
  EXPECT_EQ(counter1.stop(), 0);
  EXPECT_EQ(tally.stop(), 0);

  std::ifstream report(c.dir() / "report.txt");
  std::map<std::uint64_t, std::uint64_t> times;
  std::uint64_t words = 0;
  std::string line;
  while (std::getline(report, line)) {
    std::istringstream s(line);
    std::uint64_t id = 0;
    std::uint64_t t = 0;
    std::uint64_t w = 0;
    s >> id >> t >> w;
    times[id] = t;
    words += w;
  }
  ASSERT_EQ(times.size(), kLines);
  EXPECT_EQ(times.begin()->first, 1u);
  EXPECT_EQ(times.rbegin()->first, kLines);
  for (const auto& [id, t] : times)
    EXPECT_EQ(t, 1u) << "line " << id;
  EXPECT_EQ(words, total_words);
}

}  // namespace
}  // namespace brook::test
