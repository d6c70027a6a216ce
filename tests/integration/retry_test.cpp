// Handler failures on an at-least-once channel: transient failures succeed on a retry, poison
// messages land in the dead-letter channel with the reason, and nothing is lost.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "support/cluster.hpp"
#include "support/command.hpp"

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
  keeper: {exec: brook-dead-letters, inputs: {in: work-dead}, params: {store: "{DIR}/dead.jsonl"}}
)");
  auto graveyard = c.start_node("brook-test-sink", "graveyard");
  auto keeper = c.start_node("brook-dead-letters", "keeper");
  auto w0 = c.start_node("brook-test-sink", "worker", 0);
  auto w1 = c.start_node("brook-test-sink", "worker", 1);
  auto source = c.start_node("brook-test-source", "source");
  ASSERT_EQ(source.wait(60s), 0) << source.log();
  const std::uint64_t poison = kCount / 100;
  ASSERT_TRUE(wait_for(
      [&] { return c.counter("graveyard", "work-dead", &ChannelCounters::received) >= poison; },
      30s))
      << w0.log();
  ASSERT_TRUE(wait_for(
      [&] { return c.counter("keeper", "work-dead", &ChannelCounters::received) >= poison; }, 30s));
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

  // brook dead: the keeper has them with their reason; once the fault is fixed (a worker
  // without fail_mod), redrive sends them back and they are handled.
  const std::string topo = c.topology().string();
  const auto ls =
      run_command({bin("brook"), "dead", "ls", "work-dead", "--topology", topo, "--json"});
  ASSERT_EQ(ls.code, 0) << ls.describe();
  const auto listing = nlohmann::json::parse(ls.out);
  ASSERT_EQ(listing["dead_letters"].size(), poison) << ls.out;
  EXPECT_EQ(listing["dead_letters"][0]["channel"], "work");
  EXPECT_EQ(listing["dead_letters"][0]["attempts"], 3);
  EXPECT_EQ(listing["dead_letters"][0]["error"].get<std::string>().rfind("poison message ", 0), 0u);
  const auto show = run_command(
      {bin("brook"), "dead", "show", "work-dead", "--topology", topo, "--id", "1", "--json"});
  ASSERT_EQ(show.code, 0) << show.describe();
  EXPECT_EQ(nlohmann::json::parse(show.out)["payload"]["n"].get<std::uint64_t>() % 100, 0u);

  auto fixed = c.start_node("brook-test-sink", "worker", 0,
                            {"--set", "worker.params.fail_mod=0", "--set",
                             "worker.params.journal=" + (c.dir() / "fixed.txt").string()});
  const auto redrive =
      run_command({bin("brook"), "dead", "redrive", "work-dead", "--topology", topo, "--all"}, 60s);
  ASSERT_EQ(redrive.code, 0) << redrive.describe();
  ASSERT_TRUE(wait_for(
      [&] { return c.counter("worker", "work", &ChannelCounters::received) >= poison; }, 20s));
  EXPECT_EQ(fixed.stop(), 0);
  std::set<std::uint64_t> redriven;
  for (const auto& j : read_journal(c.dir() / "fixed.txt"))
    redriven.insert(j.n);
  EXPECT_EQ(redriven, dead) << "every dead letter handled after the redrive";
  const auto after =
      run_command({bin("brook"), "dead", "ls", "work-dead", "--topology", topo, "--json"});
  EXPECT_EQ(nlohmann::json::parse(after.out)["dead_letters"].size(), 0u) << "all marked redriven";
  EXPECT_EQ(keeper.stop(), 0);
  std::cout << "redrive: " << redriven.size() << " of " << dead.size()
            << " dead letters handled after the fault was removed\n";
}

TEST(Retry, AFullDeadLetterStoreLeavesLettersWithTheirProducers) {
  // The keeper's store holds about 5 letters: the rest are declined (brook::Declined), so the
  // workers keep them (and the source keeps their originals: chained acks) and re-send them.
  // Moving the store aside makes room: every poison message ends up stored exactly once.
  constexpr std::uint64_t kPoison = 30;
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: full-store
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms, ttl: 1s}
channels:
  work: {dead_letter: work-dead, ack_timeout: 2s}
  work-dead: {ack_timeout: 300ms}
nodes:
  source: {exec: brook-test-source, outputs: {out: work}, params: {count: 60, rate: 600},
           drain_timeout: 60s}
  worker: {exec: brook-test-sink, inputs: {in: work}, params: {fail_mod: 2}}
  keeper: {exec: brook-dead-letters, inputs: {in: work-dead},
           params: {store: "{DIR}/dead.jsonl", max_size: 2500}}
)");
  auto keeper = c.start_node("brook-dead-letters", "keeper");
  auto worker = c.start_node("brook-test-sink", "worker");
  auto source = c.start_node("brook-test-source", "source");
  const auto declined = [&] {
    return c.counter("keeper", "work-dead", &ChannelCounters::declined);
  };
  ASSERT_TRUE(wait_for([&] { return declined() >= kPoison; }, 30s)) << keeper.log();
  const auto stored = [](const std::filesystem::path& file) {
    std::vector<std::pair<std::string, std::uint64_t>> ids;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
      const auto j = nlohmann::json::parse(line).at("dead");
      ids.emplace_back(j.at("producer").get<std::string>(), j.at("seq").get<std::uint64_t>());
    }
    return ids;
  };
  const auto first = stored(c.dir() / "dead.jsonl");
  EXPECT_GT(first.size(), 0u);
  EXPECT_LT(first.size(), kPoison) << "the cap holds";
  EXPECT_NE(keeper.log().find("is full"), std::string::npos) << keeper.log();
  EXPECT_NE(keeper.log().find("move it aside or raise max_size"), std::string::npos);

  // Each store takes about 4 letters: move it aside whenever it holds some, as an operator
  // freeing room would, until the source has every original acknowledged.
  std::vector<std::filesystem::path> stores;
  std::optional<int> source_exit;
  for (int round = 0; round < 40 && !source_exit; ++round) {
    const auto live = c.dir() / "dead.jsonl";
    if (std::filesystem::exists(live) && std::filesystem::file_size(live) > 0) {
      stores.push_back(c.dir() / ("dead." + std::to_string(round) + ".jsonl"));
      std::filesystem::rename(live, stores.back());
    }
    source_exit = source.wait(1s);
  }
  ASSERT_EQ(source_exit, 0) << "every original acknowledged in the end: " << source.log()
                            << worker.log() << keeper.log();
  stores.push_back(c.dir() / "dead.jsonl");
  std::vector<std::pair<std::string, std::uint64_t>> all;
  for (const auto& store : stores) {
    for (auto& id : stored(store))
      all.push_back(id);
  }
  std::set<std::pair<std::string, std::uint64_t>> distinct(all.begin(), all.end());
  std::cout << "full store: " << first.size() << " letters fit, " << declined() << " declined, "
            << all.size() << " stored in " << stores.size() << " stores (moved aside in turn), "
            << distinct.size() << " distinct\n";
  EXPECT_EQ(all.size(), kPoison);
  EXPECT_EQ(distinct.size(), kPoison);
  EXPECT_EQ(worker.stop(), 0);
  EXPECT_EQ(keeper.stop(), 0);
}

TEST(Retry, AFailedAttemptsOutputIsNeverSent) {
  // The worker forwards each message and then, for every 3rd, throws on the first attempt: that
  // attempt's emit must be discarded, so the collector sees each message exactly once.
  constexpr std::uint64_t kCount = 600;
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: transactional
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms, ttl: 1s}
channels:
  work: {retry: {max_attempts: 3, initial: 10ms, max: 50ms}}
  done: {}
nodes:
  source: {exec: brook-test-source, outputs: {out: work}, params: {count: 600, rate: 3000}}
  worker: {exec: brook-test-sink, inputs: {in: work}, outputs: {out: done},
           params: {flaky_mod: 3, forward_first: true}}
  collector: {exec: brook-test-sink, inputs: {in: done}, params: {report: "{DIR}/collector.txt"}}
)");
  auto collector = c.start_node("brook-test-sink", "collector");
  auto worker = c.start_node("brook-test-sink", "worker");
  auto source = c.start_node("brook-test-source", "source");
  ASSERT_EQ(source.wait(60s), 0) << source.log();
  ASSERT_TRUE(wait_for(
      [&] { return c.counter("collector", "done", &ChannelCounters::received) >= kCount; }, 30s))
      << worker.log();
  EXPECT_TRUE(wait_for(
      [&] { return c.counter("worker", "work", &ChannelCounters::retried) == kCount / 3; }, 10s))
      << "every 3rd message failed once";
  EXPECT_EQ(worker.stop(), 0);
  EXPECT_EQ(collector.stop(), 0);
  const SinkReport report = read_report(c.dir() / "collector.txt");
  ASSERT_TRUE(report.complete);
  std::map<std::uint64_t, int> times;
  for (const auto& m : report.messages)
    ++times[m.n];
  EXPECT_EQ(times.size(), kCount);
  for (const auto& [n, t] : times)
    EXPECT_EQ(t, 1) << "message " << n;
}

}  // namespace
}  // namespace brook::test
