// The shop's sources on a brook::testing::TestNode and the test's clock: the catalog's price
// updates per period and the client's baskets at its rate.
#include <gtest/gtest.h>

#include <brook/testing.hpp>

#include "catalog_node.hpp"
#include "client_node.hpp"
#include "money.hpp"
#include "service.hpp"
#include "support/shop_nodes.hpp"

namespace brook::shop {
namespace {

using namespace brook::shop::test;

using ShopClientNode = WithTempDir;

// ---- catalog ---------------------------------------------------------------------------------

TEST(ShopCatalogNode, OneUpdatePerPeriodKeyedBySkuFollowingTheSchedule) {
  auto t = TestNode::from_file(kScaled, "catalog", quiet());  // period 200ms, step_percent 10
  CatalogService service(t.node());
  EXPECT_FALSE(t.next_due()) << "nothing is sent before the node is ready";
  t.start();
  t.advance(199ms);
  EXPECT_TRUE(t.emitted("out").empty());
  t.advance(1ms);
  ASSERT_EQ(t.emitted("out").size(), 1u);
  t.advance(800ms);
  const auto updates = t.emitted_as<PriceUpdate>("out");
  ASSERT_EQ(updates.size(), 5u);
  // Without an `updates` param: every SKU in catalog order, first 10 % above its price.
  const Catalog catalog = shop_catalog();
  for (std::size_t i = 0; i < updates.size(); ++i) {
    const CatalogItem& item = catalog.items()[i];
    EXPECT_EQ(updates[i].sku, item.sku);
    EXPECT_EQ(t.emitted("out")[i].key(), item.sku);
    EXPECT_EQ(updates[i].unit_cents, mul_div_half_up(item.unit_cents, 110, 100));
    EXPECT_EQ(updates[i].version, i + 1);
    EXPECT_GT(updates[i].sent_ns, 0u);
  }
  EXPECT_EQ(updates[0].unit_cents, 2089);  // 1899 + 10 %
}

TEST(ShopCatalogNode, TheUpdatesParamIsSentInACycle) {
  auto t = TestNode::from_file(
      kScaled, "catalog",
      quiet()
          .with_override("catalog.params.period=1s")
          .with_override("catalog.params.updates=[{sku: B-200, unit_cents: 1000}, "
                         "{sku: A-100, unit_cents: 1500}]"));
  CatalogService service(t.node());
  t.start();
  t.advance(3s);
  const auto updates = t.emitted_as<PriceUpdate>("out");
  ASSERT_EQ(updates.size(), 3u);
  EXPECT_EQ(updates[0].sku, "B-200");
  EXPECT_EQ(updates[0].unit_cents, 1000);
  EXPECT_EQ(updates[1].sku, "A-100");
  EXPECT_EQ(updates[1].unit_cents, 1500);
  EXPECT_EQ(updates[2].sku, "B-200");
  EXPECT_EQ(updates[2].version, 3u);

  auto bad = TestNode::from_file(
      kScaled, "catalog",
      quiet().with_override("catalog.params.updates=[{sku: ZZ-9, unit_cents: 1}]"));
  EXPECT_THROW(CatalogService{bad.node()}, ConfigError);
}

// ---- client ----------------------------------------------------------------------------------

std::vector<CartEvent> checkouts(const TestNode& t) {
  std::vector<CartEvent> out;
  for (const auto& e : t.emitted_as<CartEvent>("out")) {
    if (e.op == "checkout") out.push_back(e);
  }
  return out;
}

// The rate comes from the command line, which beats the topology's param (500/s).
TestOptions client_options(const std::filesystem::path& manifest, int baskets, int rate) {
  return quiet()
      .with_override("client.params.baskets=" + std::to_string(baskets))
      .with_override("client.params.run=t1")
      .with_override("client.params.manifest=" + manifest.string())
      .with_program_options(ClientService::options(), {"--rate", std::to_string(rate)});
}

TEST_F(ShopClientNode, SendsThePlannedBasketsWritesTheManifestAndStops) {
  const auto manifest = dir_ / "manifest.jsonl";
  auto t = TestNode::from_file(kShop, "client", client_options(manifest, 20, 0));
  ClientService service(t.node());
  t.start();
  t.advance(1ms);  // rate 0: everything in the first tick
  EXPECT_TRUE(t.stop_requested());

  // What the topology's seed (1) and invalid_ratio (0.05: basket 19 is invalid) plan, event for
  // event, keyed by basket.
  const Catalog catalog = shop_catalog();
  BasketPlanner planner(catalog, "t1", 1, 0.05);
  std::vector<CartEvent> planned;
  std::vector<std::string> lines;
  for (std::uint64_t n = 0; n < 20; ++n) {
    const PlannedBasket b = planner.plan(n);
    planned.insert(planned.end(), b.events.begin(), b.events.end());
    lines.push_back(manifest_line(b));
  }
  const auto sent = t.emitted_as<CartEvent>("out");
  ASSERT_EQ(sent.size(), planned.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(sent[i].basket_id, planned[i].basket_id);
    EXPECT_EQ(sent[i].op, planned[i].op);
    EXPECT_EQ(sent[i].sku, planned[i].sku);
    EXPECT_EQ(sent[i].qty, planned[i].qty);
    EXPECT_GT(sent[i].sent_ns, 0u);
    EXPECT_EQ(t.emitted("out")[i].key(), sent[i].basket_id);
  }
  EXPECT_EQ(checkouts(t).size(), 20u);
  EXPECT_EQ(checkouts(t).back().basket_id, "t1-000019");
  EXPECT_NE(lines[19].find("\"valid\":false"), std::string::npos) << lines[19];
  EXPECT_EQ(read_lines(manifest), lines);
}

TEST_F(ShopClientNode, HonoursItsRateOnTheNodesClock) {
  const auto manifest = dir_ / "manifest.jsonl";
  auto t = TestNode::from_file(kShop, "client", client_options(manifest, 20, 10));
  ClientService service(t.node());
  t.start();
  t.advance(550ms);  // one basket at once, then one every 100 ms
  EXPECT_EQ(checkouts(t).size(), 6u);
  t.advance(500ms);
  EXPECT_EQ(checkouts(t).size(), 11u);
  EXPECT_FALSE(t.stop_requested());
  t.advance(1s);
  EXPECT_EQ(checkouts(t).size(), 20u);
  EXPECT_TRUE(t.stop_requested());
  EXPECT_EQ(read_lines(manifest).size(), 20u);
  t.advance(1s);
  EXPECT_EQ(checkouts(t).size(), 20u) << "the timer is cancelled once done";
}

TEST_F(ShopClientNode, StoppedEarlyItKeepsTheManifestOfWhatItSent) {
  const auto manifest = dir_ / "manifest.jsonl";
  auto t = TestNode::from_file(kShop, "client", client_options(manifest, 20, 10));
  ClientService service(t.node());
  t.start();
  t.advance(250ms);
  t.stop();
  EXPECT_FALSE(t.stop_requested());
  EXPECT_EQ(checkouts(t).size(), 3u);
  EXPECT_EQ(read_lines(manifest).size(), 3u) << "flushed on stop";
}

}  // namespace
}  // namespace brook::shop
