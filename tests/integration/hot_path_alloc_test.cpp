// No heap allocation per message on the steady-state hot path: emit -> send at a source,
// receive -> decode -> handler -> emit -> send -> acknowledge at a relay, receive -> decode ->
// handler -> acknowledge at a sink. Each stage is brook-test-alloc-probe, which counts every
// global operator new of its process (every thread) over a window of messages past start-up.
//
// What may still allocate in the window is not per message: a heartbeat or another timer, and
// the containers a message passes through reaching a new high-water mark (a relay's pending
// acknowledgements while its consumer lags, up to the channel's window), after which they reuse
// their memory. The source is paced (kRate) so the stages run in a steady state, not a growing
// backlog; but a stall of the machine (tens of ms under a parallel test run) lets a backlog build
// and the containers grow once, far past a window's slack. So the window is cut in quarters and
// the calmest one is asserted: fewer than kSlack / 4 allocations over kWindow / 4 messages. One
// allocation per message anywhere would be kWindow / 4 in every quarter, and a std::deque's one
// per 8 messages kWindow / 32.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "support/cluster.hpp"

namespace brook::test {
namespace {

constexpr std::uint64_t kCount = 100000;
constexpr std::uint64_t kFrom = 50000;
constexpr std::uint64_t kTo = 90000;
constexpr std::uint64_t kWindow = kTo - kFrom;
constexpr std::uint64_t kSlack = kWindow / 100;
constexpr std::uint64_t kRate = 40000;  // messages per second: 2.5 s per test

struct Counted {
  std::string role;
  std::uint64_t messages = 0;
  std::uint64_t allocations = 0;
  std::uint64_t quarters[4] = {};
  std::uint64_t calmest() const { return *std::min_element(quarters, quarters + 4); }
  std::string by_quarter() const {
    return std::to_string(quarters[0]) + ", " + std::to_string(quarters[1]) + ", " +
           std::to_string(quarters[2]) + ", " + std::to_string(quarters[3]);
  }
};

Counted read_counted(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string tag;
  Counted c;
  in >> tag >> c.role >> c.messages >> c.allocations;
  for (auto& q : c.quarters)
    in >> q;
  return c;
}

// source -> relay -> sink on two channels of `pattern` and `delivery`, `body` bytes per message.
void expect_no_allocation_per_message(const std::string& pattern, const std::string& delivery,
                                      std::size_t body) {
  Cluster c;
  c.start_directory();
  std::ostringstream yaml;
  yaml << "topology: alloc\n"
       << "directory: {endpoints: [\"{DIRECTORY}\"], heartbeat: 200ms, ttl: 2s}\n"
       << "channels:\n"
       << "  work: {pattern: " << pattern << ", delivery: " << delivery << "}\n"
       << "  done: {pattern: " << pattern << ", delivery: " << delivery << "}\n"
       << "nodes:\n";
  const char* roles[][4] = {{"source", "", "out: work", ""},
                            {"relay", "in: work", "out: done", ""},
                            {"sink", "in: done", "", ""}};
  for (const auto& r : roles) {
    yaml << "  " << r[0] << ":\n    exec: brook-test-alloc-probe\n";
    if (*r[1]) yaml << "    inputs: {" << r[1] << "}\n";
    if (*r[2]) yaml << "    outputs: {" << r[2] << "}\n";
    yaml << "    params: {role: " << r[0] << ", count: " << kCount << ", rate: " << kRate
         << ", from: " << kFrom << ", to: " << kTo << ", body_size: " << body
         << ", report: \"{DIR}/" << r[0] << ".txt\"}\n";
  }
  c.write_topology(yaml.str());
  auto sink = c.start_node("brook-test-alloc-probe", "sink");
  auto relay = c.start_node("brook-test-alloc-probe", "relay");
  // A pubsub subscriber that connects late misses messages: wait until the relay subscribed.
  auto source = c.start_node("brook-test-alloc-probe", "source");
  ASSERT_EQ(source.wait(60s), 0) << source.log();
  ASSERT_TRUE(
      wait_for([&] { return c.counter("sink", "done", &ChannelCounters::received) >= kTo; }, 30s))
      << "the sink received " << c.counter("sink", "done", &ChannelCounters::received);
  ASSERT_EQ(relay.stop(), 0) << relay.log();
  ASSERT_EQ(sink.stop(), 0) << sink.log();
  for (const char* role : {"source", "relay", "sink"}) {
    const Counted counted = read_counted(c.dir() / (std::string(role) + ".txt"));
    EXPECT_EQ(counted.role, role);
    EXPECT_EQ(counted.messages, kWindow) << role << " did not get through its window";
    EXPECT_LT(counted.calmest(), kSlack / 4)
        << role << ": " << counted.by_quarter() << " heap allocations in the quarters of "
        << kWindow << " messages (run it with BROOK_ALLOC_TRACE=DIR for their backtraces)";
    std::cout << "[ measured ] " << pattern << " " << delivery << " " << body << " B " << role
              << ": " << counted.allocations << " allocations over " << counted.messages
              << " messages (by quarter: " << counted.by_quarter() << ")\n";
  }
}

TEST(HotPathAlloc, BestEffortPipeline) {
  expect_no_allocation_per_message("pipeline", "best-effort", 100);
}
TEST(HotPathAlloc, BestEffortPipelineKiB) {
  expect_no_allocation_per_message("pipeline", "best-effort", 1024);
}
TEST(HotPathAlloc, AtLeastOncePipeline) {
  expect_no_allocation_per_message("pipeline", "at-least-once", 100);
}
TEST(HotPathAlloc, Pubsub) {
  expect_no_allocation_per_message("pubsub", "best-effort", 100);
}

}  // namespace
}  // namespace brook::test
