// Catalog: the schedule of price updates brook-shop-catalog broadcasts to every product instance.
#pragma once

#include <brook/params.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "catalog.hpp"
#include "shop_types.hpp"

namespace brook::shop {

struct PriceChange {
  std::string sku;
  std::int64_t unit_cents = 0;
};

// The `updates` param: a list of {sku, unit_cents}. Throws brook::ConfigError for a malformed
// entry, an SKU the catalog lacks or a negative price.
std::vector<PriceChange> changes_from(const Params& params, const Catalog& catalog);

// Yields updates forever: the given changes in a cycle, or when there are none, every catalog SKU
// in turn alternately step_percent above and below its catalog price (rounded half-up).
class PriceSchedule {
 public:
  // Throws brook::Error for an empty catalog or a step_percent outside [0, 100].
  PriceSchedule(const Catalog& catalog, std::vector<PriceChange> fixed, std::int64_t step_percent);

  PriceUpdate next();  // version counts from 1; sent_ns is left for the sender

 private:
  std::vector<PriceChange> base_;
  bool derived_;
  std::int64_t step_percent_;
  std::uint64_t count_ = 0;
};

}  // namespace brook::shop
