// The shop through RabbitMQ (topologies/shop-amqp.yaml): basket's checkouts cross a queue
// (brook-amqp-out -> exchange -> queue -> brook-amqp-in) before product, and order's outcomes
// are published to an exchange too. `brook up` runs it against a private rabbitmq-server that
// is SIGKILLed and restarted mid-run; the report must still be exact, and the outcomes queue
// must hold an outcome for every basket. And the shop fed from RabbitMQ
// (topologies/shop-amqp-feed.yaml, then shop-amqp-entry.yaml): the client's cart events queued
// first, then consumed by brook-amqp-in across a broker crash, whose redeliveries amqp-in's
// dedupe window must keep from reaching basket twice, and order's outcomes published to an
// exchange as in shop-amqp.yaml.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "amqp_client.hpp"
#include "support/command.hpp"
#include "support/process.hpp"
#include "support/rabbitmq_server.hpp"
#include "support/shop_outcome.hpp"

namespace brook::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

// The environment of a shop run in `dir` (database, state, dead letters, manifest there) against
// the broker at `url`, with the directory on `port`.
std::map<std::string, std::string> shop_env(const fs::path& dir, int baskets,
                                            const std::string& rate, const std::string& url,
                                            int port) {
  return {{"SHOP_DB", (dir / "shop.db").string()},
          {"SHOP_STATE_DIR", (dir / "state").string()},
          {"SHOP_DEAD_LETTERS", (dir / "dead.jsonl").string()},
          {"SHOP_MANIFEST", (dir / "manifest.jsonl").string()},
          {"SHOP_BASKETS", std::to_string(baskets)},
          {"SHOP_RATE", rate},
          {"SHOP_SEED", "7"},
          {"SHOP_AMQP_URL", url},
          {"BROOK_DIRECTORY_PORT", std::to_string(port)}};
}

// The shop's outcomes that brook-amqp-out published to the queue shop-outcomes, by basket id
// (duplicates allowed: at-least-once). collect() takes what the queue holds now.
struct Outcomes {
  std::set<std::string> quoted, rejected;
  void collect(const std::string& url) {
    for (const auto& [body, props] : Client(url).drain("shop-outcomes")) {
      const auto m = body->as<std::map<std::string, msgpack::object>>();
      const std::string id = m.at("basket_id").as<std::string>();
      (props.type == "shop.Quote" ? quoted : rejected).insert(id);
    }
  }
  std::size_t size() const { return quoted.size() + rejected.size(); }
};

TEST(AmqpShop, ReportIsExactAcrossABrokerRestart) {
  if (!RabbitMq::installed()) {
    GTEST_SKIP() << "rabbitmq-server is not installed (apt-get install rabbitmq-server): the "
                    "AMQP shop test needs a real broker";
  }
  constexpr int kBaskets = 1000;
  RabbitMq mq;
  TempDir dir;
  const fs::path db = dir / "shop.db";
  const fs::path manifest = dir / "manifest.jsonl";
  const std::string topology = source_path("topologies/shop-amqp.yaml");
  Process up = Process::start({.argv = {bin("brook"), "up", topology, "--quiet"},
                               .env = shop_env(dir.path(), kBaskets, "100", mq.url(), free_port()),
                               .log = dir / "up.log",
                               .wait_ready = true,
                               .ready_timeout = 60s});
  ASSERT_TRUE(wait_for([&] { return count_rows(db, "orders") >= 100; }, 30s))
      << tail(up.log_path(), 60);
  const std::uint64_t orders_at_kill = count_rows(db, "orders");
  mq.kill();
  mq.start();
  const auto code = up.wait(120s);
  ASSERT_TRUE(code.has_value()) << tail(up.log_path(), 80);
  EXPECT_EQ(*code, 0) << tail(up.log_path(), 80);
  const auto r = run_command({bin("brook-shop-report"), "--db", db.string(), "--manifest",
                              manifest.string(), "--topology", topology, "--json"},
                             60s);
  ASSERT_EQ(r.code, 0) << r.describe();
  const json report = json::parse(r.out);
  // Every basket's outcome reached RabbitMQ too.
  Outcomes outcomes;
  outcomes.collect(mq.url());
  const auto& quoted = outcomes.quoted;
  const auto& rejected = outcomes.rejected;
  std::cout << "shop-amqp: " << kBaskets << " baskets, broker SIGKILLed after " << orders_at_kill
            << " orders and restarted: orders " << report["orders_complete"] << " of "
            << report["valid"] << " valid, rejections " << report["rejections"]
            << "; outcomes in RabbitMQ: " << quoted.size() << " quotes, " << rejected.size()
            << " rejections\n";
  // The bridges saw the crash (and so the run crossed it).
  EXPECT_NE(up.log().find("reconnecting in"), std::string::npos) << tail(up.log_path(), 80);
  EXPECT_TRUE(report["ok"].get<bool>()) << report.dump(2);
  EXPECT_EQ(report["orders_complete"].get<std::size_t>(), report["valid"].get<std::size_t>());
  EXPECT_EQ(quoted.size(), report["valid"].get<std::size_t>());
  EXPECT_EQ(quoted.size() + rejected.size(), static_cast<std::size_t>(kBaskets));
}

// The valid baskets of a client's manifest.
std::size_t valid_baskets(const fs::path& manifest) {
  std::ifstream f(manifest);
  std::size_t n = 0;
  for (std::string line; std::getline(f, line);)
    n += !line.empty() && json::parse(line)["valid"].get<bool>();
  return n;
}

// One user counter of a node, summed over its instances (`brook stats --json`); nullopt while
// the directory does not list it.
std::optional<std::uint64_t> user_counter(int directory_port, const std::string& node,
                                          const std::string& counter) {
  const auto r = run_command({bin("brook"), "stats", "--json", "--interval", "0", "--directory",
                              "tcp://127.0.0.1:" + std::to_string(directory_port)},
                             10s);
  if (r.code != 0) return std::nullopt;
  const json j = json::parse(r.out);
  if (!j["nodes"].contains(node)) return std::nullopt;
  return j["nodes"][node]["user_counters"].value(counter, std::uint64_t{0});
}

TEST(AmqpShop, FedFromAQueueReportIsExactAcrossABrokerRestart) {
  if (!RabbitMq::installed()) {
    GTEST_SKIP() << "rabbitmq-server is not installed (apt-get install rabbitmq-server): the "
                    "AMQP shop test needs a real broker";
  }
  constexpr int kBaskets = 1000;
  RabbitMq mq;
  TempDir dir;
  const fs::path db = dir / "shop.db";
  const fs::path manifest = dir / "manifest.jsonl";
  const std::string entry = source_path("topologies/shop-amqp-entry.yaml");
  const auto env = [&](int port) {
    auto e = shop_env(dir.path(), kBaskets, "2000", mq.url(), port);
    e["SHOP_AMQP_PREFETCH"] = "32";  // slows phase 2 enough for the crash to land mid-run
    return e;
  };

  // Phase 1: the client's cart events into the queue shop-cart; a job, so brook up ends.
  Process feed = Process::start(
      {.argv = {bin("brook"), "up", source_path("topologies/shop-amqp-feed.yaml"), "--quiet"},
       .env = env(free_port()),
       .log = dir / "feed.log",
       .wait_ready = true,
       .ready_timeout = 60s});
  const auto fed = feed.wait(60s);
  ASSERT_TRUE(fed.has_value()) << tail(feed.log_path(), 60);
  ASSERT_EQ(*fed, 0) << tail(feed.log_path(), 60);
  const std::size_t valid = valid_baskets(manifest);
  ASSERT_GT(valid, 0u);

  // Phase 2: amqp-in feeds the shop; the broker is SIGKILLed after a third of the orders.
  const int port = free_port();
  Process up = Process::start({.argv = {bin("brook"), "up", entry, "--quiet"},
                               .env = env(port),
                               .log = dir / "up.log",
                               .wait_ready = true,
                               .ready_timeout = 60s});
  ASSERT_TRUE(wait_for([&] { return count_rows(db, "orders") >= valid / 3; }, 30s))
      << tail(up.log_path(), 60);
  const std::uint64_t orders_at_kill = count_rows(db, "orders");
  mq.kill();
  mq.start();
  // No job ends phase 2 (amqp-in waits for more): once every basket has its outcome in the
  // order store and in RabbitMQ (published by quotes-out and rejections-out), stop it.
  Outcomes outcomes;
  ASSERT_TRUE(wait_for(
      [&] {
        outcomes.collect(mq.url());
        return count_rows(db, "orders") + count_rows(db, "rejections") >= std::uint64_t{kBaskets} &&
               outcomes.size() >= static_cast<std::size_t>(kBaskets);
      },
      60s))
      << tail(up.log_path(), 80);
  std::optional<std::uint64_t> duplicates;
  ASSERT_TRUE(wait_for(
      [&] {
        return (duplicates = user_counter(port, "from-rabbit", "amqp_duplicates")).has_value();
      },
      10s));
  up.signal(SIGINT);
  const auto code = up.wait(30s);
  ASSERT_TRUE(code.has_value()) << tail(up.log_path(), 80);
  EXPECT_EQ(*code, 0) << tail(up.log_path(), 80);

  const auto r = run_command({bin("brook-shop-report"), "--db", db.string(), "--manifest",
                              manifest.string(), "--topology", entry, "--json"},
                             60s);
  ASSERT_EQ(r.code, 0) << r.describe();
  const json report = json::parse(r.out);
  std::cout << "shop-amqp-entry: " << kBaskets << " baskets queued, broker SIGKILLed after "
            << orders_at_kill << " of " << valid << " orders and restarted: duplicates not "
            << "emitted again by amqp-in " << *duplicates << ", orders "
            << report["orders_complete"] << ", rejections " << report["rejections"]
            << "; outcomes in RabbitMQ: " << outcomes.quoted.size() << " quotes, "
            << outcomes.rejected.size() << " rejections\n";
  EXPECT_LT(orders_at_kill, valid) << "the crash came after the run";
  EXPECT_NE(up.log().find("reconnecting in"), std::string::npos) << tail(up.log_path(), 80);
  // Exact: a cart event emitted twice would add its items twice (orders_wrong), or reopen a
  // checked-out basket.
  EXPECT_TRUE(report["ok"].get<bool>()) << report.dump(2);
  EXPECT_EQ(report["orders_complete"].get<std::size_t>(), valid) << report.dump(2);
  EXPECT_EQ(report["rejections"].get<std::size_t>(), kBaskets - valid) << report.dump(2);
  EXPECT_EQ(outcomes.quoted.size(), valid);
  EXPECT_EQ(outcomes.rejected.size(), kBaskets - valid);
}

}  // namespace
}  // namespace brook::test
