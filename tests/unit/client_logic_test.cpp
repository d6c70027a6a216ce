// Client: deterministic basket plans whose manifest matches the events they send.
#include "client_logic.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace brook::shop {
namespace {

Catalog catalog() {
  return load_catalog(std::string(BROOK_SOURCE_DIR) + "/topologies/data/catalog.csv");
}

// What a basket service makes of the events (the contract in docs/shop.md), for the check below.
std::vector<Line> replay(const PlannedBasket& b) {
  std::vector<Line> lines;
  for (const CartEvent& e : b.events) {
    EXPECT_EQ(e.basket_id, b.basket_id);
    auto it =
        std::find_if(lines.begin(), lines.end(), [&](const Line& l) { return l.sku == e.sku; });
    if (e.op == "add") {
      EXPECT_GT(e.qty, 0);
      if (it == lines.end())
        lines.push_back({e.sku, e.qty});
      else
        it->qty += e.qty;
    } else if (e.op == "remove") {
      EXPECT_NE(it, lines.end()) << "removes only what was added";
      if (it == lines.end()) continue;
      if (e.qty > 0 && e.qty < it->qty)
        it->qty -= e.qty;
      else
        lines.erase(it);
    }
  }
  return lines;
}

TEST(ShopClient, BasketIdsArePaddedAndPrefixed) {
  EXPECT_EQ(basket_id("ab12cd34", 7), "ab12cd34-000007");
  EXPECT_EQ(basket_id("x", 1234567), "x-1234567");
}

TEST(ShopClient, SameSeedSamePlans) {
  const Catalog c = catalog();
  BasketPlanner a(c, "r", 9, 0.1), b(c, "r", 9, 0.1), other(c, "r", 10, 0.1);
  bool differs = false;
  for (std::uint64_t n = 0; n < 50; ++n) {
    const auto pa = a.plan(n), pb = b.plan(n), po = other.plan(n);
    EXPECT_EQ(manifest_line(pa), manifest_line(pb));
    differs = differs || manifest_line(pa) != manifest_line(po);
  }
  EXPECT_TRUE(differs) << "another seed should give other baskets";
}

TEST(ShopClient, PlansAreConsistentAndInvalidAtTheRatio) {
  const Catalog c = catalog();
  BasketPlanner planner(c, "run", 1, 0.05);
  int invalid = 0, unknown = 0, over = 0, removes = 0;
  for (std::uint64_t n = 0; n < 1000; ++n) {
    const PlannedBasket b = planner.plan(n);
    ASSERT_FALSE(b.events.empty());
    EXPECT_EQ(b.events.back().op, "checkout");
    EXPECT_EQ(replay(b), b.lines) << b.basket_id;
    for (const auto& e : b.events)
      removes += e.op == "remove";
    if (b.valid) {
      EXPECT_FALSE(b.lines.empty());
      EXPECT_TRUE(b.reason.empty());
      for (const Line& l : b.lines) {
        const CatalogItem* item = c.find(l.sku);
        ASSERT_NE(item, nullptr) << l.sku;
        EXPECT_LE(l.qty, item->stock) << b.basket_id;
      }
      continue;
    }
    ++invalid;
    const Line& bad = b.lines.back();
    const CatalogItem* item = c.find(bad.sku);
    if (item == nullptr) {
      ++unknown;
      EXPECT_EQ(b.reason, "unknown SKU '" + bad.sku + "'");
    } else {
      ++over;
      EXPECT_GT(bad.qty, item->stock);
      EXPECT_EQ(b.reason, "SKU '" + bad.sku + "' qty " + std::to_string(bad.qty) +
                              " exceeds stock " + std::to_string(item->stock));
    }
  }
  EXPECT_EQ(invalid, 50);
  EXPECT_EQ(unknown, 25);
  EXPECT_EQ(over, 25);
  EXPECT_GT(removes, 50);
}

TEST(ShopClient, ManifestLineIsJson) {
  PlannedBasket b;
  b.basket_id = "r-000001";
  b.lines = {{"A-100", 2}};
  b.valid = false;
  b.reason = "unknown SKU 'ZZ'";
  EXPECT_EQ(
      manifest_line(b),
      R"({"basket_id":"r-000001","valid":false,"lines":[{"sku":"A-100","qty":2}],"reason":"unknown SKU 'ZZ'"})");
}

TEST(ShopClient, RejectsBadSettings) {
  const Catalog c = catalog();
  EXPECT_THROW(BasketPlanner(c, "r", 1, 1.5), Error);
  EXPECT_THROW(BasketPlanner(c, "r", 1, -0.1), Error);
  const Catalog empty = parse_catalog("sku,name,unit_cents,stock\nA,a,1,0\n", "x");
  EXPECT_THROW(BasketPlanner(empty, "r", 1, 0.0), Error);
}

}  // namespace
}  // namespace brook::shop
