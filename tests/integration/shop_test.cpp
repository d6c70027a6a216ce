// The shop end to end through `brook up`: every valid basket becomes exactly one order with the
// right total in SQLite, every invalid one a rejection with a reason; and a product replica
// killed mid-run is restarted and the run completes.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "support/command.hpp"
#include "support/process.hpp"
#include "support/shop_outcome.hpp"
#include "support/small_disk.hpp"

namespace brook::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct ManifestBasket {
  bool valid = false;
  std::map<std::string, int> lines;  // sku -> qty
};

std::map<std::string, ManifestBasket> read_manifest(const fs::path& file) {
  std::map<std::string, ManifestBasket> out;
  std::ifstream f(file);
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    const json j = json::parse(line);
    ManifestBasket b;
    b.valid = j["valid"].get<bool>();
    for (const auto& l : j["lines"])
      b.lines[l["sku"].get<std::string>()] += l["qty"].get<int>();
    out[j["basket_id"].get<std::string>()] = b;
  }
  return out;
}

class Shop : public ::testing::Test {
 protected:
  Process up(int baskets, int rate, const std::string& topology = "topologies/shop.yaml",
             const std::vector<std::string>& extra = {}) {
    port_ = free_port();
    topology_ = source_path(topology);
    std::vector<std::string> argv{bin("brook"), "up", topology_, "--quiet"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Process::start({.argv = argv,
                           .env = {{"SHOP_DB", db().string()},
                                   {"SHOP_STATE_DIR", (dir_ / "state").string()},
                                   {"SHOP_DEAD_LETTERS", dead_letters().string()},
                                   {"SHOP_MANIFEST", manifest().string()},
                                   {"SHOP_BASKETS", std::to_string(baskets)},
                                   {"SHOP_RATE", std::to_string(rate)},
                                   {"SHOP_SEED", "7"},
                                   {"BROOK_DIRECTORY_PORT", std::to_string(port_)}},
                           .log = dir_ / "up.log",
                           .wait_ready = true,
                           .ready_timeout = 60s});
  }
  json report() {
    const auto r = run_command({bin("brook-shop-report"), "--db", db().string(), "--manifest",
                                manifest().string(), "--topology", topology_, "--json"},
                               60s);
    EXPECT_TRUE(r.code == 0 || r.code == 1) << r.describe();
    last_report_code_ = r.code;
    return json::parse(r.out);
  }
  // The registered instances (`basket.0`, ...) and their pids, as `brook ls` lists them; empty
  // when the directory did not answer.
  std::map<std::string, int> instances() {
    const std::string ep = "tcp://127.0.0.1:" + std::to_string(port_);
    const auto r = run_command({bin("brook"), "ls", "--json", "--directory", ep}, 10s);
    std::map<std::string, int> pids;
    if (r.code != 0) return pids;
    const json listing = json::parse(r.out);
    for (const auto& i : listing["instances"])
      pids[i["name"].get<std::string>()] = i["pid"].get<int>();
    return pids;
  }

  // SIGKILLs a random instance of `nodes` about every `period` while the client still runs (at
  // most 30); returns how many were killed.
  int kill_repeatedly(const std::set<std::string>& nodes, unsigned seed,
                      std::chrono::milliseconds period = 1s) {
    std::mt19937 rng(seed);
    int kills = 0;
    for (int round = 0; round < 30; ++round) {
      std::this_thread::sleep_for(period);
      const auto listed = instances();
      if (listed.empty()) continue;
      if (listed.count("client.0") == 0) break;
      std::vector<int> victims;
      for (const auto& [name, pid] : listed) {
        if (nodes.count(name.substr(0, name.find('.'))) != 0) victims.push_back(pid);
      }
      if (!victims.empty() && ::kill(victims[rng() % victims.size()], SIGKILL) == 0) ++kills;
    }
    return kills;
  }

  // Waits for `brook up` to end and checks the report: every valid basket exactly one correct
  // order, every invalid one a rejection, no basket both. Prints the counts.
  void expect_exactly_one_outcome_per_basket(Process& p, int baskets, int kills,
                                             const std::string& what) {
    const auto code = p.wait(150s);
    ASSERT_TRUE(code.has_value()) << tail(p.log_path(), 80);
    EXPECT_EQ(*code, 0) << tail(p.log_path(), 80);
    const json r = report();
    const auto valid = r["valid"].get<std::size_t>();
    const auto lost = r["orders_missing"].get<std::size_t>() +
                      r["orders_incomplete"].get<std::size_t>() +
                      r["invalid_without_rejection"].get<std::size_t>();
    const auto both = std::stoull(query(db(),
                                        "SELECT count(*) FROM orders AS o JOIN rejections AS r "
                                        "ON r.basket_id = o.order_id")[0][0]);
    const auto wrong = r["orders_wrong"].get<std::size_t>() +
                       r["valid_rejected"].get<std::size_t>() +
                       r["invalid_with_order"].get<std::size_t>();
    std::cout << "shop with " << kills << " " << what << ": sent " << baskets << ", valid " << valid
              << ", orders " << r["orders_complete"] << ", rejections " << r["rejections"]
              << ", lost " << lost << ", duplicated " << both << ", wrong " << wrong << "\n";
    EXPECT_GE(kills, 3);
    EXPECT_EQ(lost, 0u) << r.dump(2);
    EXPECT_EQ(both, 0u) << "baskets with an order and a rejection";
    EXPECT_EQ(wrong, 0u) << r.dump(2);
    EXPECT_EQ(r["orders_complete"].get<std::size_t>(), valid);
    EXPECT_TRUE(r["ok"].get<bool>()) << r.dump(2);
  }

  fs::path db() const { return db_dir_ / "shop.db"; }
  fs::path manifest() const { return dir_ / "manifest.jsonl"; }
  fs::path dead_letters() const { return dir_ / "dead-letters.jsonl"; }

  TempDir dir_;
  fs::path db_dir_ = dir_.path();
  std::string topology_;
  int port_ = 0;
  int last_report_code_ = -1;
};

TEST_F(Shop, EveryValidBasketBecomesExactlyOneCorrectOrder) {
  constexpr int kBaskets = 2000;
  Process p = up(kBaskets, 1000);
  const auto code = p.wait(150s);
  ASSERT_TRUE(code.has_value()) << tail(p.log_path(), 80);
  ASSERT_EQ(*code, 0) << tail(p.log_path(), 80);

  const auto baskets = read_manifest(manifest());
  ASSERT_EQ(baskets.size(), static_cast<std::size_t>(kBaskets));
  std::size_t valid = 0;
  for (const auto& [id, b] : baskets)
    valid += b.valid ? 1 : 0;
  ASSERT_GT(valid, kBaskets * 8u / 10);
  ASSERT_LT(valid, static_cast<std::size_t>(kBaskets)) << "the client makes some baskets invalid";

  // Independent of the report tool: read the database directly.
  std::map<std::string, int> order_count;
  for (const auto& row : query(db(),
                               "SELECT order_id, status, subtotal_cents - discount_cents + "
                               "tax_cents, total_cents FROM orders")) {
    ++order_count[row[0]];
    EXPECT_EQ(row[1], "complete") << row[0];
    EXPECT_EQ(row[2], row[3]) << "total = subtotal - discount + tax for " << row[0];
  }
  std::map<std::string, std::map<std::string, int>> lines;
  for (const auto& row :
       query(db(), "SELECT order_id, sku, qty, unit_cents * qty, line_cents FROM order_lines"))
    lines[row[0]][row[1]] += std::stoi(row[2]);
  std::map<std::string, std::string> rejections;
  for (const auto& row : query(db(), "SELECT basket_id, reason FROM rejections"))
    rejections[row[0]] = row[1];

  std::size_t orders_ok = 0;
  std::size_t rejected_ok = 0;
  for (const auto& [id, b] : baskets) {
    if (b.valid) {
      EXPECT_EQ(order_count[id], 1) << id;
      EXPECT_EQ(lines[id], b.lines) << id;
      EXPECT_EQ(rejections.count(id), 0u) << id << " wrongly rejected: " << rejections[id];
      orders_ok += order_count[id] == 1 && lines[id] == b.lines ? 1 : 0;
    } else {
      EXPECT_EQ(order_count.count(id), 0u) << id;
      ASSERT_EQ(rejections.count(id), 1u) << id;
      EXPECT_FALSE(rejections[id].empty()) << id;
      rejected_ok += 1;
    }
  }
  EXPECT_EQ(order_count.size(), valid);

  // Totals recomputed with the topology's pricing rules, latency and throughput: the report.
  const json r = report();
  EXPECT_EQ(last_report_code_, 0) << r.dump(2);
  EXPECT_EQ(r["orders_complete"].get<std::size_t>(), valid);
  EXPECT_EQ(r["orders_wrong"].get<std::size_t>(), 0u);
  EXPECT_EQ(r["orders_missing"].get<std::size_t>(), 0u);
  EXPECT_TRUE(r["ok"].get<bool>());
  std::cout << "shop: " << kBaskets << " baskets, " << orders_ok << " orders, " << rejected_ok
            << " rejections; " << r["throughput_per_s"] << " orders/s; latency ms p50 "
            << r["latency_ms"]["p50"] << " p99 " << r["latency_ms"]["p99"] << "\n";
}

TEST_F(Shop, RunsEndToEndWithCurve) {
  constexpr int kBaskets = 500;
  const fs::path keys = dir_ / "keys";
  const auto keygen = run_command(
      {bin("brook"), "keygen", keys.string(), "--topology", source_path("topologies/shop.yaml")});
  ASSERT_EQ(keygen.code, 0) << keygen.describe();
  const std::string security = "security={mechanism: curve, keys: " + keys.string() + "}";
  Process p = up(kBaskets, 1000, "topologies/shop.yaml", {"--set", security});
  const auto code = p.wait(150s);
  ASSERT_TRUE(code.has_value()) << tail(p.log_path(), 80);
  ASSERT_EQ(*code, 0) << tail(p.log_path(), 80);
  std::size_t valid = 0;
  for (const auto& [id, b] : read_manifest(manifest()))
    valid += b.valid ? 1 : 0;
  const json r = report();
  EXPECT_EQ(last_report_code_, 0) << r.dump(2);
  EXPECT_EQ(r["orders_complete"].get<std::size_t>(), valid);
  EXPECT_EQ(r["orders_wrong"].get<std::size_t>(), 0u);
  const std::string log = p.log();
  EXPECT_NE(log.find("with CURVE"), std::string::npos) << "the directory ran with CURVE";
  EXPECT_EQ(log.find("refused a connection"), std::string::npos) << "no node refused another";
  EXPECT_NE(log.find(" 0 denied, 0 connections refused"), std::string::npos)
      << tail(p.log_path(), 20);
}

TEST_F(Shop, AKilledProductReplicaIsRestartedAndTheRunCompletes) {
  constexpr int kBaskets = 3000;
  Process p = up(kBaskets, 500);  // 6 s of traffic
  // Find product.1 through the directory and kill it once traffic is flowing.
  auto product_pid = [&]() -> int {
    const auto r = run_command(
        {bin("brook"), "ls", "--json", "--directory", "tcp://127.0.0.1:" + std::to_string(port_)},
        10s);
    if (r.code != 0) {
      ADD_FAILURE() << r.describe();
      return -1;
    }
    const json listing = json::parse(r.out);
    for (const auto& i : listing["instances"])
      if (i["name"] == "product.1") return i["pid"].get<int>();
    return -1;
  };
  const int victim = product_pid();
  ASSERT_GT(victim, 0) << tail(p.log_path(), 40);
  std::this_thread::sleep_for(2s);
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  EXPECT_TRUE(wait_for(
      [&] {
        const int now = product_pid();
        return now > 0 && now != victim;
      },
      15s))
      << tail(p.log_path(), 40);
  const auto code = p.wait(150s);
  ASSERT_TRUE(code.has_value()) << tail(p.log_path(), 80);
  EXPECT_EQ(*code, 0) << tail(p.log_path(), 80);
  EXPECT_NE(p.log().find("product.1 failed (killed by SIGKILL); restarting in"), std::string::npos);

  const json r = report();
  // At-least-once with chained acks: what the killed replica held is re-sent to the other one.
  EXPECT_EQ(r["orders_wrong"].get<std::size_t>(), 0u) << r.dump(2);
  EXPECT_EQ(r["valid_rejected"].get<std::size_t>(), 0u) << r.dump(2);
  const auto lost =
      r["orders_missing"].get<std::size_t>() + r["invalid_without_rejection"].get<std::size_t>();
  EXPECT_EQ(lost, 0u) << r.dump(2);
  EXPECT_EQ(r["orders_incomplete"].get<std::size_t>(), 0u) << r.dump(2);
  std::cout << "shop with product.1 SIGKILLed: " << kBaskets << " baskets, " << r["orders_complete"]
            << " orders, " << r["rejections"] << " rejections, " << lost << " baskets lost, "
            << r["orders_incomplete"] << " incomplete\n";
}

TEST_F(Shop, ProductReplicasKilledEverySecondLoseNoOrder) {
  // ~12,000 baskets = ~50,000 cart events plus checkouts, resolved baskets, quotes and
  // rejections flowing while a random product replica is SIGKILLed about every second; brook up
  // restarts it. At-least-once with chained acks: every valid basket still becomes exactly one
  // order (the order id is the basket id; re-handled work is recorded once).
  constexpr int kBaskets = 12000;
  Process p = up(kBaskets, 1500);
  const int kills = kill_repeatedly({"product"}, 3);
  expect_exactly_one_outcome_per_basket(p, kBaskets, kills, "product SIGKILLs");
}

// basket keeps its open baskets in its state store and order its outcomes in SQLite: each is
// SIGKILLed about every second, in turn, while carts flow. Before basket kept its baskets in a
// state store, a restart forgot acknowledged adds and a re-sent checkout became an "empty
// basket" rejection instead of the order (flat out, 17 kills: 8 lost, 5 wrong); and a checkout
// whose emit found product's queue full while order restarted failed for good (2-11 lost).
TEST_F(Shop, StatefulServicesKilledEverySecondLoseAndDuplicateNothing) {
  constexpr int kBaskets = 12000;
  Process p = up(kBaskets, 1500);
  const int kills = kill_repeatedly({"basket", "order"}, 17);
  expect_exactly_one_outcome_per_basket(p, kBaskets, kills, "basket/order SIGKILLs at 1500/s");
}

// Flat out, the client's 30,000 baskets took under 2 s on a quiet VM: a kill every second found
// the client gone before the third (0 kills, twice here). So more baskets, a kill every 300 ms.
TEST_F(Shop, StatefulServicesKilledEverySecondAtFullSpeedLoseAndDuplicateNothing) {
  constexpr int kBaskets = 60000;
  Process p = up(kBaskets, 0);
  const int kills = kill_repeatedly({"basket", "order"}, 23, 300ms);
  expect_exactly_one_outcome_per_basket(p, kBaskets, kills, "basket/order SIGKILLs flat out");
}

// Issue 15, items 4 and 7: a rolling restart under load. Every instance of basket, product,
// pricing and order in turn gets SIGTERM and `brook up` (restart: always) starts a new one; the
// next goes once the new one is registered. A stopping instance settles what it holds before it
// leaves and its producers send it nothing new, so nothing is re-sent (no "re-send" line in
// any node's log) and every basket still gets exactly one correct outcome.
TEST_F(Shop, ARollingRestartUnderLoadReSendsNothing) {
  constexpr int kBaskets = 20000;
  std::vector<std::string> always;
  for (const char* node : {"basket", "product", "pricing", "order"})
    always.insert(always.end(), {"--set", std::string(node) + ".restart=always"});
  Process p = up(kBaskets, 1500, "topologies/shop.yaml", always);
  ASSERT_TRUE(wait_for([&] { return instances().count("client.0") == 1; }, 20s));
  int restarts = 0;
  for (const char* name :
       {"basket.0", "product.0", "product.1", "pricing.0", "pricing.1", "order.0"}) {
    const int old_pid = instances().at(name);
    ASSERT_EQ(::kill(old_pid, SIGTERM), 0) << name;
    ASSERT_TRUE(wait_for(
        [&] {
          const auto now = instances();
          const auto it = now.find(name);
          return it != now.end() && it->second != old_pid;
        },
        30s))
        << name << " was not replaced\n"
        << tail(p.log_path(), 40);
    ++restarts;
  }
  // Each stop and start happened while carts flowed.
  EXPECT_EQ(instances().count("client.0"), 1u) << "the client finished before the last restart";
  expect_exactly_one_outcome_per_basket(p, kBaskets, restarts, "graceful restarts at 1500/s");
  std::ifstream log(p.log_path());
  std::string line;
  int resends = 0;
  while (std::getline(log, line)) {
    if (line.find("re-send") == std::string::npos) continue;
    ADD_FAILURE() << line;
    ++resends;
  }
  std::cout << "rolling restart: " << resends << " re-send lines\n";
}

// The last number after `label` on the log line of `instance` that contains `marker`.
std::uint64_t logged(const std::string& log, const std::string& instance, const std::string& marker,
                     const std::string& label) {
  std::istringstream lines(log);
  std::string line;
  std::uint64_t value = 0;
  while (std::getline(lines, line)) {
    if (line.rfind(instance + " ", 0) != 0 || line.find(marker) == std::string::npos) continue;
    const auto at = line.find(label);
    if (at != std::string::npos) value = std::stoull(line.substr(at + label.size()));
  }
  return value;
}

TEST_F(Shop, ScaledTopologyBroadcastsPriceUpdatesToEveryProductInstance) {
  Process p = up(1000, 0, "topologies/shop-scaled.yaml");
  const auto code = p.wait(120s);
  ASSERT_TRUE(code.has_value()) << tail(p.log_path(), 80);
  ASSERT_EQ(*code, 0) << tail(p.log_path(), 80);
  const json r = report();
  EXPECT_TRUE(r["ok"].get<bool>()) << r.dump(2);
  EXPECT_EQ(last_report_code_, 0);

  // Every product instance received every update the catalog published (pubsub: a copy each),
  // besides its share of the checkouts (pipeline: each checkout to one instance).
  const std::string log = p.log();
  const std::uint64_t updates = logged(log, "catalog.0", "stopped after", "emitted ");
  ASSERT_GT(updates, 0u) << log;
  std::uint64_t checkouts = 0;
  for (int i = 0; i < 4; ++i) {
    const std::string name = "product." + std::to_string(i);
    const std::uint64_t received = logged(log, name, "stopped after", "received ");
    const std::uint64_t handled =
        logged(log, name, "resolved ", "resolved ") + logged(log, name, "resolved ", "rejected ");
    EXPECT_EQ(received - handled, updates) << name << "\n" << log;
    checkouts += handled;
  }
  // At-least-once: a checkout is handled twice only when basket re-sent it (an acknowledgement
  // that took longer than ack_timeout under load, or a replica it thought gone), which it logs.
  EXPECT_GE(checkouts, 1000u) << log;
  if (checkouts > 1000u) {
    EXPECT_NE(log.find("re-sending them"), std::string::npos)
        << checkouts - 1000 << " checkouts handled twice without a re-send\n"
        << log;
  }
}

// Issue 15's fault suite: scripts/chaos injects a seeded random mix of SIGKILL and SIGSTOP
// (0.5-3 s) over basket, product, pricing, order and the directory, overlapping (basket killed
// while order is stopped, ...), about every 0.7 s until the client has sent everything.
class ShopChaos : public Shop, public ::testing::WithParamInterface<std::tuple<int, int>> {};

TEST_P(ShopChaos, ARandomFaultMixLeavesEveryBasketWithExactlyOneCorrectOutcome) {
  const auto [seed, rate] = GetParam();
  const int baskets = rate == 0 ? 30000 : 12000;
  Process p = up(baskets, rate);
  const auto chaos = run_command(
      {"/usr/bin/python3", source_path("scripts/chaos"), "--directory",
       "tcp://127.0.0.1:" + std::to_string(port_), "--bin", BROOK_BIN_DIR, "--seed",
       std::to_string(seed), "--interval", "0.7", "--while-pid", std::to_string(p.pid())},
      240s);
  ASSERT_EQ(chaos.code, 0) << chaos.describe();
  std::cout << chaos.out.substr(chaos.out.rfind("chaos: t=")) << std::flush;
  const auto faults = std::count(chaos.out.begin(), chaos.out.end(), '\n') - 1;
  expect_exactly_one_outcome_per_basket(
      p, baskets, static_cast<int>(faults),
      "faults (seed " + std::to_string(seed) + ", rate " + std::to_string(rate) + ")");
}

INSTANTIATE_TEST_SUITE_P(Seeds, ShopChaos, ::testing::Values(std::tuple{1, 1500}, std::tuple{2, 0}),
                         [](const auto& info) {
                           return "Seed" + std::to_string(std::get<0>(info.param)) + "Rate" +
                                  std::to_string(std::get<1>(info.param));
                         });

// Prices move every 2 ms while product replicas are killed: a checkout handled by two
// replicas is resolved at two prices, and the order must take lines and quote from the same
// handling (the report re-prices the stored lines and compares the stored totals). Joining the
// first lines with the first quote failed 1 run in 2 here ("total 10385, expected 10463").
TEST_F(Shop, ScaledWithPricesMovingAndProductsKilledKeepsEveryOrderConsistent) {
  constexpr int kBaskets = 12000;
  Process p =
      up(kBaskets, 1500, "topologies/shop-scaled.yaml", {"--set", "catalog.params.period=2ms"});
  const int kills = kill_repeatedly({"product"}, 5);
  expect_exactly_one_outcome_per_basket(p, kBaskets, kills, "product SIGKILLs, prices moving");
}

// Full disk (issue 16, item 7): the order store's disk fills up mid-run. Every insert that
// fails is retried and then dead-lettered on orders-dead (topologies/shop.yaml), never
// acknowledged as if stored: each valid basket ends as a complete order or in a dead letter.
TEST_F(Shop, OrdersWhoseInsertFailedOnAFullDiskAreDeadLetteredNotLost) {
  std::string why_not;
  db_dir_ = dir_ / "disk";
  const auto disk = SmallDisk::mount(db_dir_, 8 << 20, why_not);
  if (!disk) GTEST_SKIP() << why_not;
  constexpr int kBaskets = 1500;
  Process p = up(kBaskets, 300);
  auto orders = [&] {
    try {
      return query(db(), "SELECT count(*) FROM orders")[0][0];
    } catch (const std::exception&) {
      return std::string("0");  // not created yet
    }
  };
  ASSERT_TRUE(wait_for([&] { return std::stoi(orders()) >= 100; }, 60s)) << tail(p.log_path(), 80);
  const std::uint64_t filler = disk->fill();
  // Failed inserts are retried for ~3 s, then dead-lettered.
  const bool dead_lettered = wait_for(
      [&] { return fs::exists(dead_letters()) && fs::file_size(dead_letters()) > 0; }, 20s);
  disk->unfill();
  const auto code = p.wait(150s);
  ASSERT_TRUE(code.has_value()) << tail(p.log_path(), 80);
  EXPECT_TRUE(dead_lettered) << "filler " << filler << " bytes\n" << tail(p.log_path(), 80);
  // The client is a job: a run whose orders were dead-lettered is not a clean one.
  EXPECT_EQ(*code, 1) << tail(p.log_path(), 80);
  EXPECT_NE(tail(p.log_path(), 200).find("dead-lettered"), std::string::npos)
      << tail(p.log_path(), 80);

  std::map<std::string, std::set<std::string>> dead;  // basket id -> channels
  std::ifstream f(dead_letters());
  for (std::string line; std::getline(f, line);) {
    if (line.empty()) continue;
    const json j = json::parse(line);  // {"dead": {...}} or {"redriven": id, ...}
    if (!j.contains("dead")) continue;
    const json& d = j["dead"];
    if (d["key"].is_string())
      dead[d["key"].get<std::string>()].insert(d["channel"].get<std::string>());
  }
  std::set<std::string> complete;
  for (const auto& row : query(db(), "SELECT order_id FROM orders WHERE status = 'complete'"))
    complete.insert(row[0]);
  std::set<std::string> rejected;
  for (const auto& row : query(db(), "SELECT basket_id FROM rejections"))
    rejected.insert(row[0]);
  std::size_t lost = 0;
  std::size_t in_dead = 0;
  for (const auto& [id, b] : read_manifest(manifest())) {
    const bool stored = b.valid ? complete.count(id) > 0 : rejected.count(id) > 0;
    if (stored) continue;
    if (dead.count(id) > 0) {
      ++in_dead;
    } else {
      ++lost;
      if (lost <= 5)
        ADD_FAILURE() << id << (b.valid ? " (valid)" : " (invalid)")
                      << ": neither stored nor dead-lettered";
    }
  }
  std::cout << "shop with a full database disk: " << kBaskets << " baskets, filler " << filler
            << " bytes, " << complete.size() << " orders complete, " << in_dead
            << " baskets in dead letters, " << lost << " lost\n";
  EXPECT_EQ(lost, 0u) << tail(p.log_path(), 80);
  EXPECT_GT(in_dead, 0u);
}

}  // namespace
}  // namespace brook::test
