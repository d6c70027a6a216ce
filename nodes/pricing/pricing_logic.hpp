// Pricing: turns a resolved basket into a quote. Pure functions; reused by brook-shop-report to
// re-check the totals stored by order.
//
// Rules (all amounts integer cents, every rounding half-up):
//   line_cents = unit_cents * qty; subtotal = sum of line_cents
//   bulk: a line with qty >= bulk_min_qty gets bulk_percent off that line (rounded per line)
//   threshold: if subtotal - bulk discounts >= threshold_cents, threshold_off_cents more off
//   discount = bulk discounts + threshold discount (never more than subtotal)
//   tax = (subtotal - discount) * tax_bp / 10000; total = subtotal - discount + tax
#pragma once

#include <brook/params.hpp>
#include <cstdint>
#include <vector>

#include "shop_types.hpp"

namespace brook::shop {

struct PricingRules {
  std::int32_t bulk_min_qty = 10;
  std::int64_t bulk_percent = 5;
  std::int64_t threshold_cents = 10000;
  std::int64_t threshold_off_cents = 500;
  std::int64_t tax_bp = 2000;  // basis points: 2000 = 20%
};

// Reads the rules from a pricing node's params (the defaults above for absent keys). Throws
// brook::ConfigError naming the param for a wrong type or an out-of-range value.
PricingRules rules_from(const Params& params);

// Quote for `lines` with every money field set; basket_id and client_sent_ns are left empty for
// the caller. Throws brook::Error for a negative qty or price, or an amount that overflows.
Quote price(const std::vector<ResolvedLine>& lines, const PricingRules& rules);

}  // namespace brook::shop
