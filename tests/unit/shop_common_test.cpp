// brook_shop_common: the catalog CSV, money rounding, path resolution.
#include <gtest/gtest.h>

#include <string>

#include "catalog.hpp"
#include "money.hpp"

namespace brook::shop {
namespace {

std::string error_of(std::string_view csv) {
  try {
    parse_catalog(csv, "cat.csv");
  } catch (const CatalogError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no CatalogError for:\n" << csv;
  return {};
}

TEST(ShopCatalog, ParsesRowsInOrderWithQuotesAndAnyColumnOrder) {
  const Catalog c = parse_catalog(
      "stock,sku,unit_cents,name\r\n"
      "5,A-1,1899,\"Beans, 1kg\"\r\n"
      "\n"
      "# a comment\n"
      "0,B-2,0,\"Say \"\"hi\"\"\"\n",
      "cat.csv");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c.items()[0].sku, "A-1");
  EXPECT_EQ(c.items()[0].name, "Beans, 1kg");
  EXPECT_EQ(c.items()[0].unit_cents, 1899);
  EXPECT_EQ(c.items()[0].stock, 5);
  EXPECT_EQ(c.find("B-2")->name, "Say \"hi\"");
  EXPECT_EQ(c.find("C-3"), nullptr);
}

TEST(ShopCatalog, ErrorsNameFileAndLine) {
  EXPECT_EQ(error_of("sku,name,stock\nA,a,1\n"),
            "cat.csv:1: header lacks column 'unit_cents' (expected sku,name,unit_cents,stock)");
  EXPECT_EQ(error_of("sku,name,unit_cents,stock\nA,a,12.5,1\n"),
            "cat.csv:2: unit_cents: expected a non-negative integer, got '12.5'");
  EXPECT_EQ(error_of("sku,name,unit_cents,stock\nA,a,1,-1\n"),
            "cat.csv:2: stock: expected a non-negative integer, got '-1'");
  EXPECT_EQ(error_of("sku,name,unit_cents,stock\nA,a,1,1\n\nA,b,2,2\n"),
            "cat.csv:4: duplicate SKU 'A' (first on line 2)");
  EXPECT_EQ(error_of("sku,name,unit_cents,stock\nA,a,1\n"), "cat.csv:2: expected 4 fields, got 3");
  EXPECT_EQ(error_of("sku,name,unit_cents,stock\n,a,1,1\n"), "cat.csv:2: empty sku");
  EXPECT_EQ(error_of("sku,name,unit_cents,stock\nA,\"a,1,1\n"), "cat.csv:2: unterminated quote");
  EXPECT_EQ(error_of(""), "cat.csv: empty catalog (no header line)");
}

TEST(ShopCatalog, SetPriceChangesOnlyKnownSkus) {
  Catalog c = parse_catalog("sku,name,unit_cents,stock\nA,a,100,1\n", "x");
  EXPECT_TRUE(c.set_price("A", 250));
  EXPECT_EQ(c.find("A")->unit_cents, 250);
  EXPECT_FALSE(c.set_price("B", 1));
  EXPECT_THROW(c.set_price("A", -1), Error);
}

TEST(ShopCatalog, ShippedCatalogLoadsAndSuitsTheClient) {
  const Catalog c = load_catalog(std::string(BROOK_SOURCE_DIR) + "/topologies/data/catalog.csv");
  EXPECT_GE(c.size(), 40u);
  int small = 0;
  for (const auto& item : c.items()) {
    EXPECT_GT(item.stock, 0) << item.sku;
    EXPECT_GT(item.unit_cents, 0) << item.sku;
    if (item.stock < 4) ++small;
  }
  EXPECT_GT(small, 0) << "some SKUs should have less stock than the client's largest qty";
  EXPECT_THROW(load_catalog("/nonexistent/catalog.csv"), CatalogError);
}

TEST(ShopMoney, MulDivRoundsHalfUp) {
  EXPECT_EQ(mul_div_half_up(1899, 5, 100), 95);   // 94.95 -> 95
  EXPECT_EQ(mul_div_half_up(1890, 5, 100), 95);   // 94.5 -> 95
  EXPECT_EQ(mul_div_half_up(1889, 5, 100), 94);   // 94.45 -> 94
  EXPECT_EQ(mul_div_half_up(1, 2000, 10000), 0);  // 0.2 -> 0
  EXPECT_EQ(mul_div_half_up(5, 1000, 10000), 1);  // 0.5 -> 1
  EXPECT_EQ(mul_div_half_up(0, 7, 3), 0);
  EXPECT_EQ(mul_div_half_up(4'000'000'000'000'000'000, 3, 4), 3'000'000'000'000'000'000);
  EXPECT_THROW(mul_div_half_up(-1, 1, 1), Error);
  EXPECT_THROW(mul_div_half_up(1, 1, 0), Error);
  EXPECT_THROW(checked_mul(4'000'000'000'000'000'000, 3), Error);
}

TEST(ShopPaths, ResolveNearTheTopologyFile) {
  EXPECT_EQ(resolve_near("/etc/shop/shop.yaml", "data/c.csv"), "/etc/shop/data/c.csv");
  EXPECT_EQ(resolve_near("/etc/shop/shop.yaml", "/abs/c.csv"), "/abs/c.csv");
  EXPECT_EQ(resolve_near("", "data/c.csv"), "data/c.csv");
}

}  // namespace
}  // namespace brook::shop
