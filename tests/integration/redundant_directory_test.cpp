// Redundant directories (docs/directory.md#several-directories): a topology lists two, each a
// brook-directory process of the test. An at-least-once pipeline runs under `brook up
// --no-directory` (the source, a job, and an idle node) and sinks started by hand. Directory 1 is
// SIGKILLed mid-stream, then restarted while directory 2 is killed: traffic goes on, a consumer
// started after each loss gets messages, `brook ls -t` answers, brook up still detects the drain,
// and every message reaches the sinks exactly once, in order per sink.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <zmq.hpp>

#include "directory/directory_client.hpp"
#include "support/command.hpp"
#include "support/journals.hpp"
#include "support/process.hpp"

namespace brook::test {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kCount = 8000;

std::vector<std::uint64_t> journal_numbers(const fs::path& journal) {
  std::vector<std::uint64_t> out;
  std::ifstream in(journal);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string source;
    std::uint64_t n = 0;
    if (fields >> source >> n) out.push_back(n);
  }
  return out;
}

class RedundantDirectories : public ::testing::Test {
 protected:
  Process start_directory(const std::string& endpoint) {
    return Process::start(
        {.argv = {bin("brook-directory"), "--bind", endpoint, "--log-level", "debug"},
         .env = {},
         .log = dir_ / ("directory-" + std::to_string(++logs_) + ".log")});
  }

  Process start_sink(std::uint32_t instance) {
    journals_.push_back(dir_ / ("journal-" + std::to_string(instance) + ".txt"));
    // No --directory: the node registers with every endpoint of the topology.
    return Process::start(
        {.argv = {bin("brook-test-sink"), "--topology", file_.string(), "--node", "sink",
                  "--instance", std::to_string(instance), "--log-level", "debug"},
         .env = {},
         .log = dir_ / ("sink." + std::to_string(instance) + ".log")});
  }

  std::uint64_t delivered() {
    std::uint64_t n = 0;
    for (const auto& j : journals_)
      n += journal_numbers(j).size();
    return n;
  }

  // `brook ls -t FILE` answers (from whichever directory is up) and lists `instances`.
  void expect_ls(std::size_t instances, const std::string& answering) {
    const auto r = run_command({bin("brook"), "ls", "--json", "-t", file_.string()}, 20s);
    ASSERT_EQ(r.code, 0) << r.describe();
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["directory"], answering) << r.out;
    EXPECT_EQ(j["instances"].size(), instances) << r.out;
  }

  // Directory `endpoint` lists `count` instances of the topology.
  bool lists(const std::string& endpoint, std::size_t count) {
    try {
      DirectoryClient client(endpoint, 500ms);
      return client.list().instances.size() == count;
    } catch (const Error&) {
      return false;
    }
  }

  TempDir dir_;
  fs::path file_;
  std::vector<fs::path> journals_;
  int logs_ = 0;
};

TEST_F(RedundantDirectories, EitherDirectoryMayDieAndNothingIsLost) {
  const std::string e1 = "tcp://127.0.0.1:" + std::to_string(free_port());
  const std::string e2 = "tcp://127.0.0.1:" + std::to_string(free_port());
  auto d1 = start_directory(e1);
  auto d2 = start_directory(e2);
  std::string yaml = R"(
topology: redundant
directory: {endpoints: ["E2", "E1"], external: true, heartbeat: 200ms, ttl: 1s}
channels:
  work: {delivery: at-least-once, ack_timeout: 5s}
  quiet: {external: true}
nodes:
  source: {exec: brook-test-source, job: true, outputs: {out: work},
           params: {count: COUNT, rate: 500}}
  sink: {exec: brook-test-sink, replicas: 3, inputs: {in: work},
         params: {journal: "DIR/journal-{instance}.txt"}}
  # Keeps brook up running after the source finished, so it must detect the drain.
  idle: {exec: brook-test-sink, inputs: {in: quiet}}
)";
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"E1", e1}, {"E2", e2}, {"COUNT", std::to_string(kCount)}, {"DIR", dir_.path()}}) {
    yaml.replace(yaml.find(from), from.size(), to);
  }
  // Directory 2 listed first: when it is dead at the end, the tools and brook up's drain
  // detection must go past it to directory 1.
  file_ = dir_.write("topology.yaml", yaml);
  auto sink0 = start_sink(0);
  // The sinks start by hand, one after each directory loss; brook up runs the rest.
  auto up = Process::start({.argv = {bin("brook"), "up", file_.string(), "--no-directory", "--only",
                                     "source,idle", "--quiet"},
                            .env = {},
                            .log = dir_ / "up.log",
                            .ready_timeout = 30s});
  ASSERT_TRUE(wait_for([&] { return delivered() >= 1000; }, 30s)) << up.log();

  // Directory 1 dies: traffic goes on, a new consumer finds the source through directory 2.
  d1.signal(SIGKILL);
  ASSERT_TRUE(d1.wait(5s));
  auto sink1 = start_sink(1);
  ASSERT_TRUE(wait_for([&] { return !journal_numbers(journals_[1]).empty(); }, 20s)) << sink1.log();
  expect_ls(4, e2);

  // Directory 1 comes back empty; the nodes register with it again. Then directory 2 dies.
  d1 = start_directory(e1);
  ASSERT_TRUE(wait_for([&] { return lists(e1, 4); }, 20s)) << d1.log();
  const std::uint64_t before = delivered();
  d2.signal(SIGKILL);
  ASSERT_TRUE(d2.wait(5s));
  auto sink2 = start_sink(2);
  ASSERT_TRUE(wait_for([&] { return !journal_numbers(journals_[2]).empty(); }, 20s)) << sink2.log();
  EXPECT_GT(delivered(), before);
  expect_ls(5, e1);

  // The source finishes; brook up detects the drain through directory 1 alone.
  ASSERT_EQ(up.wait(60s), 0) << up.log();
  EXPECT_NE(up.log().find("drained in"), std::string::npos) << up.log();
  for (auto* s : {&sink0, &sink1, &sink2})
    ASSERT_EQ(s->stop(), 0) << s->log();

  const Tally t = tally(journals_, "source.0", kCount);
  std::cout << "two directories, each SIGKILLed once: sent " << kCount << ", delivered "
            << t.distinct << ", duplicated " << t.duplicates << ", per sink";
  for (const auto& j : journals_)
    std::cout << " " << journal_numbers(j).size();
  std::cout << "\n";
  EXPECT_EQ(t.distinct, kCount);
  EXPECT_EQ(t.duplicates, 0u);
  EXPECT_EQ(t.unexpected, 0u);
  for (const auto& j : journals_) {
    const auto ns = journal_numbers(j);
    EXPECT_TRUE(std::is_sorted(ns.begin(), ns.end())) << j << " out of order";
  }
}

TEST_F(RedundantDirectories, ToolsAskTheNextEndpointWhenOneIsDown) {
  const std::string dead = "tcp://127.0.0.1:" + std::to_string(free_port());
  const std::string dead2 = "tcp://127.0.0.1:" + std::to_string(free_port());
  auto live_dir = start_directory("tcp://127.0.0.1:" + std::to_string(free_port()));
  const std::string live = live_dir.ready_value("router");
  auto directory_of = [](const CommandResult& r) {
    return r.code == 0 ? nlohmann::json::parse(r.out)["directory"].get<std::string>()
                       : r.describe();
  };
  const auto repeated =
      run_command({bin("brook"), "ls", "--json", "--directory", dead, "--directory", live}, 20s);
  EXPECT_EQ(directory_of(repeated), live);
  const auto listed = run_command({bin("brook"), "ls", "--json", "-d", dead + "," + live}, 20s);
  EXPECT_EQ(directory_of(listed), live);
  const auto env = run_command({bin("brook"), "stats", "--json", "--interval", "0"}, 20s,
                               {{"BROOK_DIRECTORY", dead + "," + live}});
  EXPECT_EQ(directory_of(env), live);
  const auto none = run_command({bin("brook"), "ls", "-d", dead + "," + dead2}, 20s);
  EXPECT_EQ(none.code, 3) << none.describe();
  EXPECT_NE(none.err.find(dead + ", " + dead2), std::string::npos) << none.describe();
  const auto empty = run_command({bin("brook"), "ls", "-d", ","}, 20s);
  EXPECT_EQ(empty.code, 2) << empty.describe();
}

}  // namespace
}  // namespace brook::test

namespace brook::test {
namespace {

// A peer at a directory's endpoint that answers every request with garbage (another program, a
// directory of another release, a hostile peer), on its own thread until destroyed.
class GarbageDirectory {
 public:
  GarbageDirectory() : router_(ctx_, zmq::socket_type::router) {
    router_.set(zmq::sockopt::linger, 0);
    router_.bind("tcp://127.0.0.1:*");
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this] {
      while (!stop_) {
        zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
        if (zmq::poll(&item, 1, std::chrono::milliseconds(20)) == 0) continue;
        zmq::message_t id;
        zmq::message_t request;
        if (!router_.recv(id, zmq::recv_flags::dontwait)) continue;
        while (id.more() || request.more()) {
          if (!router_.recv(request, zmq::recv_flags::dontwait)) break;
        }
        router_.send(id, zmq::send_flags::sndmore);
        router_.send(zmq::str_buffer("\xc1 not a directory reply"));
        ++answered_;
      }
    });
  }
  ~GarbageDirectory() {
    stop_ = true;
    thread_.join();
  }
  const std::string& endpoint() const { return endpoint_; }
  int answered() const { return answered_; }

 private:
  zmq::context_t ctx_{1};
  zmq::socket_t router_;
  std::string endpoint_;
  std::atomic<bool> stop_{false};
  std::atomic<int> answered_{0};
  std::thread thread_;
};

TEST(RedundantDirectoryGarbage, ADirectoryAnsweringGarbageIsSkippedLikeADeadOne) {
  TempDir dir;
  GarbageDirectory garbage;
  Process live = Process::start({.argv = {bin("brook-directory"), "--bind", "tcp://127.0.0.1:*"},
                                 .env = {},
                                 .log = dir / "directory.log",
                                 .wait_ready = true,
                                 .ready_timeout = 10s});
  const std::string good = live.ready_value("router");
  const auto r =
      run_command({bin("brook"), "ls", "--json", "-d", garbage.endpoint() + "," + good}, 20s);
  ASSERT_EQ(r.code, 0) << r.describe();
  EXPECT_EQ(nlohmann::json::parse(r.out)["directory"], good) << r.out;
  EXPECT_GE(garbage.answered(), 1) << "the garbage directory was not asked first";
  // Alone, it is a named failure that says what to check.
  const auto alone = run_command({bin("brook"), "ls", "-d", garbage.endpoint()}, 20s);
  EXPECT_EQ(alone.code, 3) << alone.describe();
  EXPECT_NE(alone.err.find("reply malformed"), std::string::npos) << alone.describe();
  EXPECT_NE(alone.err.find("a brook-directory of this release"), std::string::npos)
      << alone.describe();
}

}  // namespace
}  // namespace brook::test
