// Catalog node: the schedule of price updates.
#include <gtest/gtest.h>

#include "catalog_logic.hpp"

namespace brook::shop {
namespace {

Catalog catalog() {
  return parse_catalog("sku,name,unit_cents,stock\nA,a,1000,1\nB,b,1999,1\n", "c.csv");
}

TEST(ShopPriceSchedule, DerivedUpdatesAlternateAroundCatalogPrices) {
  PriceSchedule s(catalog(), {}, 10);
  const PriceUpdate u1 = s.next(), u2 = s.next(), u3 = s.next(), u4 = s.next();
  EXPECT_EQ(u1.sku, "A");
  EXPECT_EQ(u1.unit_cents, 1100);
  EXPECT_EQ(u1.version, 1u);
  EXPECT_EQ(u2.sku, "B");
  EXPECT_EQ(u2.unit_cents, 2199);  // 2198.9 -> 2199
  EXPECT_EQ(u3.unit_cents, 900);
  EXPECT_EQ(u4.unit_cents, 1799);  // 1799.1 -> 1799
  EXPECT_EQ(u4.version, 4u);
}

TEST(ShopPriceSchedule, FixedChangesCycle) {
  PriceSchedule s(catalog(), {{"B", 5}, {"A", 7}}, 10);
  EXPECT_EQ(s.next().unit_cents, 5);
  EXPECT_EQ(s.next().unit_cents, 7);
  const PriceUpdate again = s.next();
  EXPECT_EQ(again.sku, "B");
  EXPECT_EQ(again.unit_cents, 5);
  EXPECT_THROW(PriceSchedule(catalog(), {}, 101), Error);
  EXPECT_THROW(PriceSchedule(Catalog(), {}, 10), Error);
}

TEST(ShopPriceSchedule, ChangesFromParams) {
  const Catalog c = catalog();
  auto params = [](const char* yaml) { return Params(YAML::Load(yaml), "t", "t.yaml"); };
  EXPECT_TRUE(changes_from(params("{}"), c).empty());
  const auto got = changes_from(params("{updates: [{sku: A, unit_cents: 1}, {sku: B, unit_cents: 2}]}"), c);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].sku, "B");
  EXPECT_EQ(got[1].unit_cents, 2);
  EXPECT_THROW(changes_from(params("{updates: [{sku: Q, unit_cents: 1}]}"), c), ConfigError);
  EXPECT_THROW(changes_from(params("{updates: [{sku: A, unit_cents: x}]}"), c), ConfigError);
  EXPECT_THROW(changes_from(params("{updates: [{sku: A, unit_cents: -1}]}"), c), ConfigError);
  EXPECT_THROW(changes_from(params("{updates: 3}"), c), ConfigError);
}

}  // namespace
}  // namespace brook::shop
