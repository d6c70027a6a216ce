#include "catalog_logic.hpp"

#include "money.hpp"

namespace brook::shop {

std::vector<PriceChange> changes_from(const Params& params, const Catalog& catalog) {
  std::vector<PriceChange> out;
  if (!params.has("updates")) return out;
  const YAML::Node list = params.yaml()["updates"];
  if (!list.IsSequence()) throw ConfigError("param 'updates': expected a list of {sku, unit_cents}");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string where = "param 'updates[" + std::to_string(i) + "]'";
    const YAML::Node item = list[i];
    if (!item.IsMap() || !item["sku"] || !item["unit_cents"]) {
      throw ConfigError(where + ": expected {sku, unit_cents}");
    }
    PriceChange c;
    try {
      c.sku = item["sku"].as<std::string>();
      c.unit_cents = item["unit_cents"].as<std::int64_t>();
    } catch (const YAML::Exception&) {
      throw ConfigError(where + ": sku must be a string and unit_cents an integer");
    }
    if (catalog.find(c.sku) == nullptr) throw ConfigError(where + ": unknown SKU '" + c.sku + "'");
    if (c.unit_cents < 0) throw ConfigError(where + ": negative unit_cents");
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
    for (const CatalogItem& item : catalog.items()) base_.push_back({item.sku, item.unit_cents});
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
