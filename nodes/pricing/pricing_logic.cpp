#include "pricing_logic.hpp"

#include <algorithm>
#include <string>

#include "money.hpp"

namespace brook::shop {

namespace {

template <class T>
T ranged(const Params& params, std::string_view key, T fallback, T lo, T hi) {
  const T v = params.get<T>(key, fallback);
  if (v < lo || v > hi) {
    throw ConfigError("pricing param '" + std::string(key) + "' = " + std::to_string(v) +
                      " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return v;
}

constexpr std::int64_t kMaxCents = 1'000'000'000'000;  // 10 billion currency units

}  // namespace

PricingRules rules_from(const Params& params) {
  const PricingRules d;
  PricingRules r;
  r.bulk_min_qty = ranged<std::int32_t>(params, "bulk_min_qty", d.bulk_min_qty, 1, 1'000'000);
  r.bulk_percent = ranged<std::int64_t>(params, "bulk_percent", d.bulk_percent, 0, 100);
  r.threshold_cents =
      ranged<std::int64_t>(params, "threshold_cents", d.threshold_cents, 0, kMaxCents);
  r.threshold_off_cents =
      ranged<std::int64_t>(params, "threshold_off_cents", d.threshold_off_cents, 0, kMaxCents);
  r.tax_bp = ranged<std::int64_t>(params, "tax_bp", d.tax_bp, 0, 100'000);
  return r;
}

Quote price(const std::vector<ResolvedLine>& lines, const PricingRules& rules) {
  std::int64_t subtotal = 0;
  std::int64_t bulk = 0;
  for (const ResolvedLine& l : lines) {
    if (l.qty < 0 || l.unit_cents < 0) {
      throw Error("cannot price line '" + l.sku + "': qty " + std::to_string(l.qty) +
                  ", unit_cents " + std::to_string(l.unit_cents));
    }
    const std::int64_t line_cents = checked_mul(l.unit_cents, l.qty);
    subtotal = checked_add(subtotal, line_cents);
    if (l.qty >= rules.bulk_min_qty) {
      bulk = checked_add(bulk, mul_div_half_up(line_cents, rules.bulk_percent, 100));
    }
  }
  std::int64_t discount = bulk;
  if (subtotal - bulk >= rules.threshold_cents) {
    discount = checked_add(discount, rules.threshold_off_cents);
  }
  discount = std::min(discount, subtotal);
  const std::int64_t net = subtotal - discount;
  const std::int64_t tax = mul_div_half_up(net, rules.tax_bp, 10'000);
  Quote q;
  q.subtotal_cents = subtotal;
  q.discount_cents = discount;
  q.tax_cents = tax;
  q.total_cents = checked_add(net, tax);
  return q;
}

}  // namespace brook::shop
