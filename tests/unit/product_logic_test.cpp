// Product: resolving checkouts against the catalog, rejections, price updates.
#include "product_logic.hpp"

#include <gtest/gtest.h>

namespace brook::shop {
namespace {

Catalog catalog() {
  return parse_catalog("sku,name,unit_cents,stock\nA-1,Beans,1899,20\nB-2,Mug,1250,3\n", "c.csv");
}

Checkout checkout(std::vector<Line> lines) {
  Checkout c;
  c.basket_id = "r-000001";
  c.lines = std::move(lines);
  c.client_sent_ns = 42;
  return c;
}

Rejection rejected(const Checkout& c) {
  const Resolution r = resolve(c, catalog(), "product.1");
  EXPECT_TRUE(std::holds_alternative<Rejection>(r));
  return std::holds_alternative<Rejection>(r) ? std::get<Rejection>(r) : Rejection{};
}

TEST(ShopProduct, ResolvesNamesAndPrices) {
  const Resolution r = resolve(checkout({{"B-2", 3}, {"A-1", 1}}), catalog(), "product.0");
  ASSERT_TRUE(std::holds_alternative<ResolvedBasket>(r));
  const auto& b = std::get<ResolvedBasket>(r);
  EXPECT_EQ(b.basket_id, "r-000001");
  EXPECT_EQ(b.client_sent_ns, 42u);
  ASSERT_EQ(b.lines.size(), 2u);
  EXPECT_EQ(b.lines[0], (ResolvedLine{"B-2", "Mug", 3, 1250}));
  EXPECT_EQ(b.lines[1], (ResolvedLine{"A-1", "Beans", 1, 1899}));
}

TEST(ShopProduct, RejectsTheFirstProblem) {
  Rejection r = rejected(checkout({{"A-1", 1}, {"ZZ-404", 1}, {"B-2", 50}}));
  EXPECT_EQ(r.reason, "unknown SKU 'ZZ-404'");
  EXPECT_EQ(r.sku, "ZZ-404");
  EXPECT_EQ(r.rejected_by, "product.1");
  EXPECT_EQ(r.client_sent_ns, 42u);
  EXPECT_EQ(rejected(checkout({{"A-1", 50}})).reason, "SKU 'A-1' qty 50 exceeds stock 20");
  EXPECT_EQ(rejected(checkout({{"B-2", 0}})).reason, "SKU 'B-2' qty 0 is not positive");
  EXPECT_EQ(rejected(checkout({})).reason, "empty basket");
}

TEST(ShopProduct, StockIsAPerLineLimit) {
  EXPECT_TRUE(
      std::holds_alternative<ResolvedBasket>(resolve(checkout({{"B-2", 3}}), catalog(), "p")));
  EXPECT_TRUE(std::holds_alternative<Rejection>(resolve(checkout({{"B-2", 4}}), catalog(), "p")));
}

TEST(ShopProduct, PriceUpdatesChangeResolvedPrices) {
  Catalog c = catalog();
  apply_price_update(c, PriceUpdate{"A-1", 2000, 1, 0});
  const auto r = resolve(checkout({{"A-1", 2}}), c, "p");
  EXPECT_EQ(std::get<ResolvedBasket>(r).lines.at(0).unit_cents, 2000);
  EXPECT_THROW(apply_price_update(c, PriceUpdate{"Q-9", 1, 2, 0}), Error);
  EXPECT_THROW(apply_price_update(c, PriceUpdate{"A-1", -5, 3, 0}), Error);
}

}  // namespace
}  // namespace brook::shop
