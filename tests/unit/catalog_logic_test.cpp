// Catalog node: the schedule of price updates.
#include "catalog_logic.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "support/error_text.hpp"

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

std::string error_of(const std::function<void()>& f) {
  return test::error_of<ConfigError>(f);
}

TEST(ShopPriceSchedule, ChangesFromParams) {
  const Catalog c = catalog();
  auto params = [](const char* yaml) { return Params::parse(yaml, "t.yaml"); };
  EXPECT_TRUE(changes_from(params("{}"), c).empty());
  const auto got =
      changes_from(params("{updates: [{sku: A, unit_cents: 1}, {sku: B, unit_cents: 2}]}"), c);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].sku, "A");
  EXPECT_EQ(got[0].unit_cents, 1);
  EXPECT_EQ(got[1].sku, "B");
  EXPECT_EQ(got[1].unit_cents, 2);
}

TEST(ShopPriceSchedule, BadUpdatesNameTheEntry) {
  const Catalog c = catalog();
  auto error = [&](const char* yaml) {
    return error_of([&] { changes_from(Params::parse(yaml, "t.yaml"), c); });
  };
  EXPECT_EQ(error("{updates: [{sku: A, unit_cents: 1}, {sku: Q, unit_cents: 1}]}"),
            "t.yaml: updates[1]: unknown SKU 'Q'");
  EXPECT_EQ(error("{updates: [{sku: A, unit_cents: x}]}"),
            "t.yaml:1:33: param 'unit_cents': expected an integer, got 'x'");
  EXPECT_EQ(error("{updates: [{sku: A, unit_cents: -1}]}"),
            "t.yaml: updates[0]: negative unit_cents");
  EXPECT_EQ(error("{updates: [{sku: A}]}"), "t.yaml: updates[0]: missing param 'unit_cents'");
  EXPECT_EQ(error("{updates: [{sku: [A], unit_cents: 1}]}"),
            "t.yaml:1:18: param 'sku': expected a string, got a list");
  EXPECT_EQ(error("{updates: [A]}"), "t.yaml:1:12: param 'updates[0]': expected a map, got 'A'");
  EXPECT_EQ(error("{updates: 3}"),
            "t.yaml:1:11: param 'updates': expected a list of maps, got '3'");
}

}  // namespace
}  // namespace brook::shop
