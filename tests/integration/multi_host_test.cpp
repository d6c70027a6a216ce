// The shop across three hosts (topologies/shop-hosts.yaml) in the network-namespace test bed
// (tests/support/netns.hpp): directories on hosts a and b, order on c. While carts flow, host b
// (a directory, product.0, pricing.0) is lost and later restarted, and host c (order) is cut off
// for 10 s; with durable outputs and at-least-once channels every basket still gets exactly one
// correct outcome. Skipped where network namespaces cannot be made (not root).
#include <gtest/gtest.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "support/command.hpp"
#include "support/netns.hpp"
#include "support/process.hpp"
#include "support/shop_outcome.hpp"

namespace brook::test {
namespace {

namespace fs = std::filesystem;

constexpr int kBaskets = 9000;
constexpr int kRate = 300;  // 30 s of carts: long enough for every fault to happen mid-stream

class MultiHost : public ::testing::Test {
 protected:
  const std::string topology_ = source_path("topologies/shop-hosts.yaml");

  // `brook up --host NAME` inside host `index` (a=1, b=2, c=3), each host its own state dir.
  Process up(int index, bool wait_ready = true) {
    const std::string host(1, static_cast<char>('a' + index - 1));
    std::vector<std::string> argv = bed_.exec_prefix(index);
    argv.insert(argv.end(), {bin("brook"), "up", topology_, "--host", host, "--quiet"});
    return Process::start({.argv = argv,
                           .env = {{"SHOP_DB", (dir_ / "shop.db").string()},
                                   {"SHOP_STATE_DIR", (dir_ / ("state-" + host)).string()},
                                   {"SHOP_MANIFEST", (dir_ / "manifest.jsonl").string()},
                                   {"SHOP_DEAD_LETTERS", (dir_ / "dead-letters.jsonl").string()},
                                   {"SHOP_BASKETS", std::to_string(kBaskets)},
                                   {"SHOP_RATE", std::to_string(kRate)},
                                   {"SHOP_SEED", "11"}},
                           .log = dir_ / ("up-" + host + "-" + std::to_string(++starts_) + ".log"),
                           .wait_ready = wait_ready,
                           .ready_timeout = 60s});
  }

  // The instances a directory lists, asked from inside host `from`.
  std::set<std::string> listed(int from, int directory_host) {
    std::vector<std::string> argv = bed_.exec_prefix(from);
    argv.insert(argv.end(), {bin("brook"), "ls", "--json", "--directory",
                             "tcp://" + NetnsBed::address(directory_host) + ":5670"});
    const auto r = run_command(argv, 10s);
    std::set<std::string> names;
    if (r.code != 0) {
      std::cerr << "brook ls from host " << from << ": " << r.describe() << "\n";
      return names;
    }
    const nlohmann::json listing = nlohmann::json::parse(r.out);
    for (const auto& i : listing["instances"])
      names.insert(i["name"].get<std::string>());
    return names;
  }

  // Orders committed so far: traffic is flowing end to end.
  std::size_t orders() const { return count_rows(dir_ / "shop.db", "orders"); }

  std::string logs() const {
    std::string out;
    for (const auto& e : fs::directory_iterator(dir_.path())) {
      if (e.path().extension() == ".log")
        out += "--- " + e.path().filename().string() + "\n" + tail(e.path(), 40) + "\n";
    }
    return out;
  }

  NetnsBed bed_{3};
  TempDir dir_;
  int starts_ = 0;
};

TEST_F(MultiHost, TheShopSurvivesADirectoryHostLossAPartitionAndAHostRestart) {
  if (!bed_.available()) GTEST_SKIP() << bed_.why_unavailable();
  // A directory's host first (c has none: its nodes could not register), then c, whose order
  // is what b's product.0 and pricing.0 wait for, then a.
  Process b = up(2, false);
  Process c = up(3);
  ASSERT_TRUE(wait_for(
      [&] {
        const auto on_b = listed(2, 2);
        return on_b.count("product.0") == 1 && on_b.count("pricing.0") == 1;
      },
      20s))
      << logs();
  Process a = up(1);
  ASSERT_TRUE(wait_for([&] { return orders() >= 300; }, 30s)) << "no orders\n" << logs();

  // Host b is lost: its directory, product.0 and pricing.0 die together.
  bed_.kill(2);
  (void)b.wait(10s);
  // Directory a still lists everything on a and c; nodes registered there keep working.
  EXPECT_TRUE(wait_for([&] { return listed(1, 1).count("product.0") == 0; }, 10s))
      << "b's instances did not expire from a's directory\n"
      << logs();
  EXPECT_EQ(listed(3, 1).count("order.0"), 1u) << logs();
  // ... and comes back: the same share, its directory empty, re-filled by every node.
  Process b2 = up(2);
  EXPECT_TRUE(wait_for([&] { return listed(2, 2).count("order.0") == 1; }, 15s))
      << "order on c did not register with b's new directory\n"
      << logs();

  // Host c (order, product.1, pricing.1) is cut off for 10 s, then heals.
  const std::size_t before_cut = orders();
  EXPECT_EQ(listed(1, 1).count("client.0"), 1u) << "the client finished before the partition";
  const auto cut_at = std::chrono::steady_clock::now();
  bed_.cut(3);
  EXPECT_TRUE(wait_for([&] { return listed(1, 1).count("order.0") == 0; }, 8s))
      << "a cut-off host's instances stayed listed\n"
      << logs();
  // The fault itself lasts 10 s: its length is the point, not a wait for something.
  std::this_thread::sleep_until(cut_at + 10s);
  bed_.heal(3);
  EXPECT_TRUE(wait_for([&] { return listed(1, 1).count("order.0") == 1; }, 15s))
      << "order did not come back after the partition\n"
      << logs();

  EXPECT_TRUE(wait_for([&] { return orders() > before_cut + 300; }, 30s))
      << "no orders after the partition\n"
      << logs();

  // Host a's launch ends once its client finished and the pipeline drained.
  const auto code = a.wait(180s);
  ASSERT_TRUE(code.has_value()) << logs();
  EXPECT_EQ(*code, 0) << logs();
  EXPECT_EQ(b2.stop(15s), 0) << logs();
  EXPECT_EQ(c.stop(15s), 0) << logs();

  const ShopOutcome o = shop_outcome(dir_ / "shop.db", dir_ / "manifest.jsonl", topology_);
  std::cout << "shop on 3 hosts, host b lost and restarted, host c cut off 10 s: sent " << kBaskets
            << ", " << o.counts() << "\n";
  EXPECT_EQ(o.lost, 0u) << o.report.dump(2);
  EXPECT_EQ(o.duplicated, 0u) << "baskets with an order and a rejection";
  EXPECT_EQ(o.wrong, 0u) << o.report.dump(2);
  EXPECT_EQ(o.orders, o.valid);
  EXPECT_TRUE(o.ok) << o.report.dump(2);
}

}  // namespace
}  // namespace brook::test
