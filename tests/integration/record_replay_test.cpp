// Golden test of a subgraph with brook record and brook replay: the shop runs while `brook record`
// keeps its `checkouts` channel; then a fresh product/pricing/order subgraph, started with
// `brook up --only`, gets the recording replayed into it and must store the same orders and
// rejections as the first run (identical but for what names a handling: its id, instance and
// times).
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/command.hpp"
#include "support/process.hpp"
#include "support/shop_outcome.hpp"

namespace brook::test {
namespace {

namespace fs = std::filesystem;

constexpr int kBaskets = 300;

// Everything an order is, without the handling that made it (ids, instance, wall-clock times).
constexpr const char* kOrders =
    "SELECT order_id, status, line_count, subtotal_cents, discount_cents, tax_cents, "
    "total_cents, client_sent_ns FROM orders ORDER BY order_id";
constexpr const char* kOrderLines =
    "SELECT o.order_id, l.line_no, l.sku, l.name, l.qty, l.unit_cents, l.line_cents FROM orders "
    "AS o JOIN order_lines AS l ON l.order_id = o.order_id AND l.handling = o.handling "
    "ORDER BY 1, 2";
constexpr const char* kRejections =
    "SELECT basket_id, sku, reason, client_sent_ns FROM rejections ORDER BY basket_id";

bool contains(const fs::path& log, const std::string& text) {
  std::ifstream f(log);
  std::stringstream s;
  s << f.rdbuf();
  return s.str().find(text) != std::string::npos;
}

class RecordReplay : public ::testing::Test {
 protected:
  // The shop's environment for run `name` (its own database, state and directory port).
  std::map<std::string, std::string> env(const std::string& name, int port) const {
    return {{"SHOP_DB", db(name).string()},
            {"SHOP_STATE_DIR", (dir_ / (name + "-state")).string()},
            {"SHOP_DEAD_LETTERS", (dir_ / (name + "-dead.jsonl")).string()},
            {"SHOP_MANIFEST", manifest().string()},
            {"SHOP_BASKETS", std::to_string(kBaskets)},
            {"SHOP_RATE", "300"},
            {"SHOP_SEED", "11"},
            {"BROOK_DIRECTORY_PORT", std::to_string(port)}};
  }
  Process up(const std::string& name, int port, const std::string& only,
             const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{bin("brook"), "up", topology_, "--quiet", "--only", only};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Process::start({.argv = argv,
                           .env = env(name, port),
                           .log = dir_ / (name + "-" + only + ".log"),
                           .wait_ready = true,
                           .ready_timeout = 60s});
  }
  // Orders and rejections stored: every basket's outcome.
  std::uint64_t outcomes(const std::string& name) const {
    return count_rows(db(name), "rejections") +
           (count_rows(db(name), "orders") == 0
                ? 0
                : std::stoull(query(
                      db(name), "SELECT count(*) FROM orders WHERE status = 'complete'")[0][0]));
  }
  fs::path db(const std::string& name) const { return dir_ / (name + ".db"); }
  fs::path manifest() const { return dir_ / "manifest.jsonl"; }

  TempDir dir_;
  std::string topology_ = source_path("topologies/shop.yaml");
  fs::path recording_ = dir_ / "checkouts.brec";
};

TEST_F(RecordReplay, ReplayedCheckoutsGiveASubgraphTheSameOrders) {
  // Run 1: the shop without its client, a recorder on checkouts, then the client.
  const int port1 = free_port();
  Process shop = up("first", port1, "basket,product,pricing,order,dead-letters");
  Process recorder = Process::start(
      {.argv = {bin("brook"), "record", "checkouts", "-o", recording_.string(), "-t", topology_},
       .env = env("first", port1),
       .log = dir_ / "record.log",
       .wait_ready = false});
  ASSERT_TRUE(wait_for([&] { return contains(recorder.log_path(), "(Ctrl-C to stop)"); }, 20s))
      << tail(recorder.log_path());
  // Copies reach the recorder once basket has connected to it: probe until one arrived, so no
  // checkout of the run is missed. Each probe is a checkout of an empty basket (a rejection).
  int probes = 0;
  while (!contains(recorder.log_path(), "recording checkouts from basket.0")) {
    ASSERT_LT(probes, 10) << tail(recorder.log_path());
    const std::string id = "probe-" + std::to_string(++probes);
    const auto sent = run_command(
        {bin("brook"), "send", "cart",
         R"({"basket_id":")" + id + R"(","op":"checkout","sku":"","qty":0,"sent_ns":0})", "--type",
         "shop.CartEvent", "-k", id, "-t", topology_},
        30s, env("first", port1));
    ASSERT_EQ(sent.code, 0) << sent.describe();
    wait_for([&] { return contains(recorder.log_path(), "recording checkouts from basket.0"); },
             2s);
  }
  Process client = up("first", port1, "client", {"--no-directory"});
  const auto client_code = client.wait(120s);
  ASSERT_TRUE(client_code.has_value()) << tail(client.log_path());
  ASSERT_EQ(*client_code, 0) << tail(client.log_path());
  const std::uint64_t expected = kBaskets + static_cast<std::uint64_t>(probes);
  ASSERT_TRUE(wait_for([&] { return outcomes("first") >= expected; }, 60s))
      << outcomes("first") << " of " << expected << "\n"
      << tail(shop.log_path());
  recorder.signal(SIGINT);
  const auto record_code = recorder.wait(20s);
  ASSERT_TRUE(record_code.has_value());
  EXPECT_EQ(*record_code, 0) << tail(recorder.log_path());
  EXPECT_TRUE(contains(recorder.log_path(),
                       "recorded " + std::to_string(expected) + " message(s) from 1 producer(s)"))
      << tail(recorder.log_path());
  EXPECT_TRUE(contains(recorder.log_path(), ", 0 missed")) << tail(recorder.log_path());
  shop.signal(SIGINT);
  ASSERT_TRUE(shop.wait(30s).has_value());
  const ShopOutcome first = shop_outcome(db("first"), manifest(), topology_);
  EXPECT_EQ(first.lost + first.duplicated + first.wrong, 0u) << first.counts();

  // The file lists one line per record after its header.
  const auto listed = run_command({bin("brook"), "replay", recording_.string(), "--list"}, 30s);
  ASSERT_EQ(listed.code, 0) << listed.describe();
  EXPECT_EQ(static_cast<std::uint64_t>(std::count(listed.out.begin(), listed.out.end(), '\n')),
            expected + 1);
  // Another language reads it from the documented format alone (python/brook/recording.py).
  const auto python =
      run_command({"/usr/bin/python3", "-m", "brook.recording", recording_.string()}, 30s,
                  {{"PYTHONPATH", source_path("python")}});
  ASSERT_EQ(python.code, 0) << python.describe();
  EXPECT_EQ(static_cast<std::uint64_t>(std::count(python.out.begin(), python.out.end(), '\n')),
            expected);
  EXPECT_NE(python.out.find(" checkouts basket.0@"), std::string::npos) << python.out;
  EXPECT_EQ(python.err, "");

  // Run 2: only the consumers of checkouts and what they feed; the recording goes in.
  const int port2 = free_port();
  Process subgraph = up("second", port2, "product,pricing,order,dead-letters");
  const auto replayed = run_command({bin("brook"), "replay", recording_.string(), "-t", topology_},
                                    120s, env("second", port2));
  ASSERT_EQ(replayed.code, 0) << replayed.describe();
  EXPECT_NE(
      replayed.err.find("replayed " + std::to_string(expected) +
                        " message(s) to pipeline channel 'checkouts' (1 consuming node(s)), " +
                        std::to_string(expected) + " acknowledged"),
      std::string::npos)
      << replayed.err;
  // Acknowledged means stored: product acknowledges once order and pricing have acknowledged.
  ASSERT_TRUE(wait_for([&] { return outcomes("second") >= expected; }, 30s))
      << outcomes("second") << " of " << expected;
  subgraph.signal(SIGINT);
  ASSERT_TRUE(subgraph.wait(30s).has_value());

  const auto orders = query(db("first"), kOrders);
  EXPECT_EQ(orders.size(), first.orders);
  EXPECT_GT(orders.size(), kBaskets / 2u);
  EXPECT_EQ(query(db("second"), kOrders), orders);
  EXPECT_EQ(query(db("second"), kOrderLines), query(db("first"), kOrderLines));
  const auto rejections = query(db("first"), kRejections);
  EXPECT_EQ(rejections.size(), first.rejections + static_cast<std::size_t>(probes));
  EXPECT_EQ(query(db("second"), kRejections), rejections);
  std::cout << "recorded " << expected << " checkouts (" << probes
            << " probe(s)); replayed: " << orders.size() << " orders and " << rejections.size()
            << " rejections identical\n";
}

}  // namespace
}  // namespace brook::test
