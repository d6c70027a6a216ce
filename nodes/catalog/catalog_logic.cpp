#include "catalog_logic.hpp"

#include "money.hpp"

namespace brook::shop {

std::vector<PriceChange> changes_from(const Params& params, const Catalog& catalog) {
  std::vector<PriceChange> out;
  // list() and get() name the file, line and column of a malformed entry.
  for (const Params& item : params.list("updates")) {
    PriceChange c;
    c.sku = item.get<std::string>("sku");
    c.unit_cents = item.get<std::int64_t>("unit_cents");
    if (catalog.find(c.sku) == nullptr) {
      throw ConfigError(item.origin() + ": unknown SKU '" + c.sku + "'");
    }
    if (c.unit_cents < 0) throw ConfigError(item.origin() + ": negative unit_cents");
    out.push_back(std::move(c));
  }
  return out;
}

PriceSchedule::PriceSchedule(const Catalog& catalog, std::vector<PriceChange> fixed,
                             std::int64_t step_percent)
    : base_(std::move(fixed)), derived_(base_.empty()), step_percent_(step_percent) {
  if (step_percent < 0 || step_percent > 100) {
    throw Error("step_percent must be within [0, 100], got " + std::to_string(step_percent));
  }
  if (derived_) {
    for (const CatalogItem& item : catalog.items())
      base_.push_back({item.sku, item.unit_cents});
  }
  if (base_.empty()) throw Error("no prices to update: the catalog is empty");
}

PriceUpdate PriceSchedule::next() {
  const PriceChange& c = base_[count_ % base_.size()];
  const std::uint64_t cycle = count_ / base_.size();
  ++count_;
  PriceUpdate u;
  u.sku = c.sku;
  u.version = count_;
  u.unit_cents = c.unit_cents;
  if (derived_) {
    const std::int64_t percent = cycle % 2 == 0 ? 100 + step_percent_ : 100 - step_percent_;
    u.unit_cents = mul_div_half_up(c.unit_cents, percent, 100);
  }
  return u;
}

}  // namespace brook::shop
