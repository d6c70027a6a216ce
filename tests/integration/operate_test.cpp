// Operating a running launch (issue 18, item 5): `brook up -d` detaches, and brook status, logs,
// scale, restart and down operate it through its run directory. Under load through an
// at-least-once pipeline (source -> relay -> sink), scaling the relay up and down and a rolling
// restart lose and duplicate nothing.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "support/command.hpp"
#include "support/journals.hpp"
#include "support/process.hpp"
#include "support/shop_outcome.hpp"
#include "support/up_fixture.hpp"

namespace brook::test {
namespace {

namespace fs = std::filesystem;

class Operate : public UpTest {
 protected:
  CommandResult brook(std::vector<std::string> args, std::chrono::milliseconds timeout = 60s) {
    args.insert(args.begin(), bin("brook"));
    args.insert(args.end(), {"--run-dir", run_dir().string()});
    return run_command(args, timeout);
  }
  fs::path run_dir() const { return dir_ / "run"; }

  // Lines in the sink's journal (each handled message writes one).
  std::uint64_t journal_lines() const {
    std::ifstream in(dir_ / "journal.txt");
    std::uint64_t n = 0;
    for (std::string l; std::getline(in, l);)
      ++n;
    return n;
  }

  nlohmann::json status() {
    const auto r = brook({"status", "--json"}, 20s);
    if (r.out.empty()) return nlohmann::json::object();
    return nlohmann::json::parse(r.out, nullptr, false);
  }

  int instances_of(const nlohmann::json& s, const std::string& node) {
    int n = 0;
    for (const auto& i : s.value("instances", nlohmann::json::array()))
      n += i.value("node", "") == node && i.value("state", "") == "up" ? 1 : 0;
    return n;
  }

  ~Operate() override {
    // A test that failed half-way must not leave its daemon behind.
    if (fs::exists(run_dir() / "control.sock")) (void)brook({"down"}, 30s);
  }
};

constexpr std::uint64_t kCount = 30000;

const char* kPipeline = R"(
topology: operate
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s}
channels:
  work: {delivery: at-least-once, ack_timeout: 5s}
  done: {delivery: at-least-once, ack_timeout: 5s}
nodes:
  source: {exec: brook-test-source, outputs: {out: work},
           params: {count: 30000, rate: 2000, exit_when_done: false}}
  relay: {exec: brook-test-sink, replicas: 2, inputs: {in: work}, outputs: {out: done},
          drain_timeout: 10s,
          params: {delay_us: 300}}
  sink: {exec: brook-test-sink, inputs: {in: done}, params: {journal: '{DIR}/journal.txt'}}
)";

TEST_F(Operate, ScaleAndRestartUnderLoadLoseAndDuplicateNothing) {
  topology(kPipeline);
  const auto up =
      run_command({bin("brook"), "up", file_.string(), "-d", "--run-dir", run_dir().string()}, 60s);
  ASSERT_EQ(up.code, 0) << up.describe();
  EXPECT_NE(up.out.find("READY directory=" + endpoint_ + " instances=4/4"), std::string::npos)
      << up.out;
  EXPECT_NE(up.out.find("run directory " + run_dir().string()), std::string::npos) << up.out;
  EXPECT_TRUE(fs::exists(run_dir() / "control.sock"));

  // The terminal's brook returned, the launch keeps running and supervising.
  auto s = status();
  EXPECT_EQ(instances_of(s, "relay"), 2) << s.dump();
  EXPECT_EQ(s.value("up", false), true) << s.dump();

  ASSERT_TRUE(wait_for([&] { return journal_lines() >= 2000; }, 30s));
  const auto scaled_up = brook({"scale", "relay=4"});
  ASSERT_EQ(scaled_up.code, 0) << scaled_up.describe();
  EXPECT_NE(scaled_up.out.find("relay scaled to 4 replica(s), ready in"), std::string::npos)
      << scaled_up.out;
  s = status();
  EXPECT_EQ(instances_of(s, "relay"), 4) << s.dump();
  // The new replicas take part: each handles messages (its counters in the directory).
  ASSERT_TRUE(wait_for(
      [&] {
        const auto r = run_command(
            {bin("brook"), "stats", "--json", "--interval", "0", "--directory", endpoint_}, 10s);
        const auto l = nlohmann::json::parse(r.out, nullptr, false);
        if (!l.is_object()) return false;
        int busy = 0;
        for (const auto& i : l.value("instances", nlohmann::json::array())) {
          const std::string name = i.value("name", "");
          if (name != "relay.2" && name != "relay.3") continue;
          const auto channels = i.value("channels", nlohmann::json::object());
          const auto work = channels.value("work", nlohmann::json::object());
          busy += work.value("received", 0) > 0 ? 1 : 0;
        }
        return busy == 2;
      },
      20s));

  const auto before_down = journal_lines();
  const auto scaled_down = brook({"scale", "relay=1"});
  ASSERT_EQ(scaled_down.code, 0) << scaled_down.describe();
  s = status();
  EXPECT_EQ(instances_of(s, "relay"), 1) << s.dump();
  ASSERT_TRUE(wait_for([&] { return journal_lines() >= before_down + 2000; }, 30s));

  const auto restarted = brook({"restart", "relay"});
  ASSERT_EQ(restarted.code, 0) << restarted.describe();
  EXPECT_NE(restarted.out.find("restart: relay.0 is ready"), std::string::npos) << restarted.out;
  const auto after_ops = journal_lines();
  EXPECT_LT(after_ops, kCount) << "the operations ran after the stream ended: not under load";

  ASSERT_TRUE(wait_for(
      [&] { return tally({dir_ / "journal.txt"}, "source.0", kCount).distinct >= kCount; }, 60s))
      << "got " << tally({dir_ / "journal.txt"}, "source.0", kCount).distinct;

  s = status();
  EXPECT_EQ(s.value("up", false), true) << s.dump();
  for (const auto& i : s["instances"]) {
    if (i["name"] == "relay.0") {
      EXPECT_EQ(i.value("replaced", 0), 1) << s.dump();
    }
  }
  const auto text = brook({"status"});
  EXPECT_EQ(text.code, 0) << text.describe();
  EXPECT_NE(text.out.find("relay.0"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("relay.3"), std::string::npos) << "scaled away:\n" << text.out;

  const auto relay_log = brook({"logs", "relay.0"});
  EXPECT_EQ(relay_log.code, 0) << relay_log.describe();
  EXPECT_NE(relay_log.out.find("INFO  ready in"), std::string::npos) << relay_log.out;
  const auto launcher_log = brook({"logs"});
  EXPECT_NE(launcher_log.out.find("brook     | relay scaled to 1 replica(s)"), std::string::npos)
      << launcher_log.out;

  const auto down = brook({"down"});
  EXPECT_EQ(down.code, 0) << down.describe();
  EXPECT_NE(down.out.find("stopped cleanly"), std::string::npos) << down.out;
  EXPECT_FALSE(fs::exists(run_dir() / "control.sock"));
  EXPECT_FALSE(fs::exists(run_dir() / "brook.pid"));
  EXPECT_TRUE(processes_of_topology().empty());

  const Tally t = tally({dir_ / "journal.txt"}, "source.0", kCount);
  std::cout << "scale relay 2->4->1 and a rolling restart under load, at-least-once: sent "
            << kCount << ", lost " << kCount - t.distinct << ", duplicated " << t.duplicates
            << ", unexpected " << t.unexpected << " (" << after_ops
            << " delivered when the operations were done)\n";
  EXPECT_EQ(t.distinct, kCount);
  // What the launcher saw when a stop was not clean (a drain cut short re-sends).
  std::string why;
  std::ifstream log(run_dir() / "brook.log");
  for (std::string l; std::getline(log, l);) {
    for (const char* k : {"re-send", "SIGKILL", "unacknowledged", "stopped with", "drain"})
      if (l.find(k) != std::string::npos) why += l + "\n";
  }
  EXPECT_EQ(t.duplicates, 0u) << why;
  EXPECT_EQ(t.unexpected, 0u);
}

TEST_F(Operate, ARunDirectoryInUseIsRefusedAndBadRequestsAreNamed) {
  topology(R"(
topology: operate-refuse
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s}
channels: {work: {}}
nodes:
  source: {exec: brook-test-source, outputs: {out: work}, params: {count: 0, exit_when_done: false}}
  sink: {exec: brook-test-sink, inputs: {in: work}}
)");
  const auto none = brook({"status"}, 20s);
  EXPECT_EQ(none.code, 1) << none.describe();
  EXPECT_NE(none.err.find("no launch runs in " + run_dir().string()), std::string::npos)
      << none.err;

  const auto up =
      run_command({bin("brook"), "up", file_.string(), "-d", "--run-dir", run_dir().string()}, 60s);
  ASSERT_EQ(up.code, 0) << up.describe();
  const auto again =
      run_command({bin("brook"), "up", file_.string(), "-d", "--run-dir", run_dir().string()}, 60s);
  EXPECT_EQ(again.code, 1) << again.describe();
  EXPECT_NE(again.err.find("a launch is already running in " + run_dir().string()),
            std::string::npos)
      << again.err;
  EXPECT_TRUE(fs::exists(run_dir() / "control.sock")) << "the refused launch left it alone";

  const auto zero = brook({"scale", "sink=0"}, 20s);
  EXPECT_EQ(zero.code, 2) << zero.describe();
  const auto unknown = brook({"scale", "nobody=2"}, 20s);
  EXPECT_EQ(unknown.code, 1) << unknown.describe();
  EXPECT_NE(unknown.err.find("no node 'nobody' in this launch (nodes: "), std::string::npos)
      << unknown.err;
  const auto no_log = brook({"logs", "nobody"}, 20s);
  EXPECT_EQ(no_log.code, 1) << no_log.describe();
  EXPECT_NE(no_log.err.find("instances: "), std::string::npos) << no_log.err;

  const auto down = brook({"down"});
  EXPECT_EQ(down.code, 0) << down.describe();
  EXPECT_TRUE(processes_of_topology().empty());
  const auto after = brook({"status"}, 20s);
  EXPECT_EQ(after.code, 1) << after.describe();
  // The logs stay for a look after the stop.
  const auto kept = brook({"logs", "sink.0"}, 20s);
  EXPECT_EQ(kept.code, 0) << kept.describe();
  EXPECT_NE(kept.out.find("stopped after"), std::string::npos) << kept.out;
}

TEST_F(Operate, AFailedDetachedStartSaysWhyAndExitsNonZero) {
  topology(R"(
topology: operate-fail
directory: {endpoints: ['{DIRECTORY}']}
channels: {work: {external: true}}
nodes:
  sink: {exec: brook-test-sink, inputs: {in: work}}
)");
  zmq::context_t ctx;
  zmq::socket_t squatter(ctx, zmq::socket_type::pull);
  squatter.bind(endpoint_);
  const auto up =
      run_command({bin("brook"), "up", file_.string(), "-d", "--run-dir", run_dir().string()}, 60s);
  EXPECT_EQ(up.code, 1) << up.describe();
  EXPECT_NE(up.err.find("did not start; the end of its log"), std::string::npos) << up.err;
  EXPECT_NE(up.err.find("already in use?"), std::string::npos) << up.err;
  EXPECT_FALSE(fs::exists(run_dir() / "brook.pid"));
}

TEST_F(Operate, AForegroundLaunchWithARunDirectoryIsOperatedToo) {
  topology(R"(
topology: operate-fg
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s}
channels: {work: {}}
nodes:
  source: {exec: brook-test-source, outputs: {out: work}, params: {count: 0, exit_when_done: false}}
  sink: {exec: brook-test-sink, inputs: {in: work}}
)");
  Process p = up({"--run-dir", run_dir().string()});
  const auto s = brook({"status"}, 20s);
  EXPECT_EQ(s.code, 0) << s.describe();
  Process follow =
      Process::start({.argv = {bin("brook"), "logs", "sink", "-f", "--run-dir", run_dir().string()},
                      .env = {},
                      .log = dir_ / "follow.log",
                      .wait_ready = false});
  const auto scaled = brook({"scale", "sink=2"});
  EXPECT_EQ(scaled.code, 0) << scaled.describe();
  // -f picks up the instance brook scale added.
  EXPECT_TRUE(wait_for(
      [&] { return follow.log().find("sink.1 | INFO  ready in") != std::string::npos; }, 20s))
      << follow.log();
  follow.signal(SIGINT);
  const auto logs = brook({"logs", "sink"}, 20s);
  EXPECT_NE(logs.out.find("sink.1 | INFO  ready in"), std::string::npos) << logs.out;
  const auto down = brook({"down"});
  EXPECT_EQ(down.code, 0) << down.describe();
  const auto code = p.wait(30s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << p.log();
  EXPECT_NE(p.log().find("brook down: stopping"), std::string::npos) << p.log();
}

// The issue's own case: the shop under load, `brook scale product=4` and `brook restart pricing`
// (and product back to 1): every basket still gets exactly one correct outcome.
TEST_F(Operate, TheShopScaledAndRestartedUnderLoadLosesAndDuplicatesNothing) {
  constexpr int kBaskets = 20000;
  const int port = free_port();
  const std::string shop = source_path("topologies/shop.yaml");
  file_ = shop;  // for processes_of_topology()
  const std::map<std::string, std::string> env = {
      {"SHOP_DB", (dir_ / "shop.db").string()},
      {"SHOP_STATE_DIR", (dir_ / "state").string()},
      {"SHOP_DEAD_LETTERS", (dir_ / "dead").string()},
      {"SHOP_MANIFEST", (dir_ / "manifest.jsonl").string()},
      {"SHOP_BASKETS", std::to_string(kBaskets)},
      {"SHOP_RATE", "1500"},
      {"SHOP_SEED", "7"},
      {"BROOK_DIRECTORY_PORT", std::to_string(port)}};
  const auto up =
      run_command({bin("brook"), "up", shop, "-d", "--run-dir", run_dir().string()}, 90s, env);
  ASSERT_EQ(up.code, 0) << up.describe();
  ASSERT_TRUE(wait_for([&] { return count_rows(dir_ / "shop.db", "orders") >= 1000; }, 60s));
  const auto scaled = brook({"scale", "product=4"});
  EXPECT_EQ(scaled.code, 0) << scaled.describe();
  const auto restarted = brook({"restart", "pricing"});
  EXPECT_EQ(restarted.code, 0) << restarted.describe();
  const auto back = brook({"scale", "product=1"});
  EXPECT_EQ(back.code, 0) << back.describe();
  const auto status_text = brook({"status"});
  EXPECT_NE(status_text.out.find("client.0"), std::string::npos)
      << "the client finished before the operations were done: not under load\n"
      << status_text.out;
  // The client is a job: once it finished and the pipeline drained, the launch ends by itself.
  EXPECT_TRUE(wait_for([&] { return !fs::exists(run_dir() / "brook.pid"); }, 150s));
  std::ifstream log(run_dir() / "brook.log");
  const std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(text.find("stopped cleanly"), std::string::npos) << text.substr(text.size() - 3000);
  EXPECT_EQ(text.find("re-send"), std::string::npos) << "a drained instance re-sends nothing";
  const ShopOutcome o = shop_outcome(dir_ / "shop.db", dir_ / "manifest.jsonl", shop);
  std::cout << "shop at 1500/s, brook scale product=4, brook restart pricing, brook scale "
               "product=1: sent "
            << kBaskets << ", " << o.counts() << "\n";
  EXPECT_EQ(o.lost, 0u) << o.report.dump(2);
  EXPECT_EQ(o.duplicated, 0u);
  EXPECT_EQ(o.wrong, 0u) << o.report.dump(2);
  EXPECT_EQ(o.orders, o.valid);
  EXPECT_TRUE(o.ok) << o.report.dump(2);
}

}  // namespace
}  // namespace brook::test
