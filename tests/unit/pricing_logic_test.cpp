// Pricing rules: bulk and threshold discounts, tax, half-up rounding, params.
#include "pricing_logic.hpp"

#include <gtest/gtest.h>

namespace brook::shop {
namespace {

ResolvedLine line(std::int32_t qty, std::int64_t unit) {
  return ResolvedLine{"S", "s", qty, unit};
}

TEST(ShopPricing, SmallBasketPaysTaxOnly) {
  const Quote q = price({line(1, 219), line(1, 2199), line(1, 475)}, PricingRules{});
  EXPECT_EQ(q.subtotal_cents, 2893);
  EXPECT_EQ(q.discount_cents, 0);
  EXPECT_EQ(q.tax_cents, 579);  // 578.6 -> 579
  EXPECT_EQ(q.total_cents, 3472);
}

TEST(ShopPricing, ThresholdDiscountAppliesAtTheThreshold) {
  EXPECT_EQ(price({line(1, 9999)}, PricingRules{}).discount_cents, 0);
  const Quote q = price({line(2, 5000)}, PricingRules{});
  EXPECT_EQ(q.subtotal_cents, 10000);
  EXPECT_EQ(q.discount_cents, 500);
  EXPECT_EQ(q.tax_cents, 1900);
  EXPECT_EQ(q.total_cents, 11400);
}

TEST(ShopPricing, BulkDiscountPerLineRoundsHalfUpAndCountsTowardsThreshold) {
  // 10 x 1899 = 18990, 5% = 949.5 -> 950; 18040 >= 10000 so 500 more.
  const Quote q = price({line(10, 1899), line(9, 100)}, PricingRules{});
  EXPECT_EQ(q.subtotal_cents, 18990 + 900);
  EXPECT_EQ(q.discount_cents, 950 + 500);
  EXPECT_EQ(q.tax_cents, (19890 - 1450) * 2 / 10);
  EXPECT_EQ(q.total_cents, 19890 - 1450 + 3688);
  // The bulk discount can take a basket below the threshold.
  const Quote below = price({line(10, 1050)}, PricingRules{});  // 10500 - 525 = 9975
  EXPECT_EQ(below.discount_cents, 525);
}

TEST(ShopPricing, DiscountNeverExceedsSubtotal) {
  PricingRules r;
  r.threshold_cents = 0;
  r.threshold_off_cents = 1000;
  const Quote q = price({line(1, 300)}, r);
  EXPECT_EQ(q.discount_cents, 300);
  EXPECT_EQ(q.total_cents, 0);
  EXPECT_EQ(price({}, PricingRules{}).total_cents, 0);
}

TEST(ShopPricing, RejectsNegativeAmountsAndOverflow) {
  EXPECT_THROW(price({line(-1, 100)}, PricingRules{}), Error);
  EXPECT_THROW(price({line(1, -100)}, PricingRules{}), Error);
  EXPECT_THROW(price({line(2'000'000'000, 9'000'000'000'000)}, PricingRules{}), Error);
}

TEST(ShopPricing, RulesFromParams) {
  const PricingRules d = rules_from(Params::parse("{}", "t.yaml"));
  EXPECT_EQ(d.bulk_min_qty, 10);
  EXPECT_EQ(d.bulk_percent, 5);
  EXPECT_EQ(d.threshold_cents, 10000);
  EXPECT_EQ(d.threshold_off_cents, 500);
  EXPECT_EQ(d.tax_bp, 2000);
  const PricingRules r =
      rules_from(Params::parse("{bulk_min_qty: 3, bulk_percent: 10, tax_bp: 0}", "t.yaml"));
  EXPECT_EQ(r.bulk_min_qty, 3);
  EXPECT_EQ(r.bulk_percent, 10);
  EXPECT_EQ(r.tax_bp, 0);
  EXPECT_THROW(rules_from(Params::parse("{bulk_percent: 101}", "t.yaml")), ConfigError);
  EXPECT_THROW(rules_from(Params::parse("{tax_bp: lots}", "t.yaml")), ConfigError);
}

}  // namespace
}  // namespace brook::shop
