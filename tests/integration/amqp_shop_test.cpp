// The shop through RabbitMQ (topologies/shop-amqp.yaml): basket's checkouts cross a queue
// (brook-amqp-out -> exchange -> queue -> brook-amqp-in) before product, and order's outcomes
// are published to an exchange too. `brook up` runs it against a private rabbitmq-server that
// is SIGKILLed and restarted mid-run; the report must still be exact, and the outcomes queue
// must hold an outcome for every basket.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>
#include <set>

#include "amqp_client.hpp"
#include "support/command.hpp"
#include "support/process.hpp"
#include "support/rabbitmq_server.hpp"

namespace brook::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

// count(*) of a table, 0 while the database or the table does not exist yet.
std::uint64_t rows(const fs::path& db, const std::string& table) {
  sqlite3* h = nullptr;
  std::uint64_t n = 0;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    const std::string sql = "SELECT count(*) FROM " + table;
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      n = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0));
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return n;
}

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
                               .env = {{"SHOP_DB", db.string()},
                                       {"SHOP_STATE_DIR", (dir / "state").string()},
                                       {"SHOP_DEAD_LETTERS", (dir / "dead.jsonl").string()},
                                       {"SHOP_MANIFEST", manifest.string()},
                                       {"SHOP_BASKETS", std::to_string(kBaskets)},
                                       {"SHOP_RATE", "100"},
                                       {"SHOP_SEED", "7"},
                                       {"SHOP_AMQP_URL", mq.url()},
                                       {"BROOK_DIRECTORY_PORT", std::to_string(free_port())}},
                               .log = dir / "up.log",
                               .wait_ready = true,
                               .ready_timeout = 60s});
  ASSERT_TRUE(wait_for([&] { return rows(db, "orders") >= 100; }, 30s)) << tail(up.log_path(), 60);
  const std::uint64_t orders_at_kill = rows(db, "orders");
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
  // Every basket's outcome reached RabbitMQ too (duplicates allowed: at-least-once).
  std::set<std::string> quoted, rejected;
  for (const auto& [body, props] : Client(mq.url()).drain("shop-outcomes")) {
    const auto m = body->as<std::map<std::string, msgpack::object>>();
    const std::string id = m.at("basket_id").as<std::string>();
    (props.type == "shop.Quote" ? quoted : rejected).insert(id);
  }
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

}  // namespace
}  // namespace brook::test
