// Client: plans simulated shoppers' baskets. Each planned basket is the cart events to send and
// what the shop should make of them (the manifest line brook-shop-report checks against).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "catalog.hpp"
#include "shop_types.hpp"

namespace brook::shop {

struct PlannedBasket {
  std::string basket_id;
  std::vector<CartEvent> events;  // sent_ns left 0: stamped when emitted
  std::vector<Line> lines;        // final contents, merged per SKU in first-add order
  bool valid = true;
  std::string reason;  // why product must reject it; empty when valid
};

// "<run>-<n>" with n zero-padded to 6 digits.
std::string basket_id(const std::string& run, std::uint64_t n);

// Deterministic for a given catalog, seed and run: plan(0), plan(1), ... (in that order) always
// give the same baskets. A fraction `invalid_ratio` of baskets, spread evenly, is invalid;
// alternately an unknown SKU "ZZ-<n>" or one line with qty above the SKU's stock. Valid baskets
// keep every SKU's total qty within stock and are never empty.
class BasketPlanner {
 public:
  // Throws brook::Error when invalid_ratio is outside [0, 1] or no SKU has stock.
  BasketPlanner(const Catalog& catalog, std::string run, std::uint64_t seed, double invalid_ratio);

  PlannedBasket plan(std::uint64_t n);

 private:
  std::int64_t uniform(std::int64_t lo, std::int64_t hi);  // inclusive
  std::int32_t held(const PlannedBasket& b, const std::string& sku) const;
  void add(PlannedBasket& b, const std::string& sku, std::int32_t qty);
  void remove_one(PlannedBasket& b);
  void make_over_stock(PlannedBasket& b);

  const Catalog& catalog_;
  std::string run_;
  double invalid_ratio_;
  std::mt19937_64 rng_;
};

// One JSON line (no newline): {"basket_id":..,"valid":..,"lines":[{"sku":..,"qty":..}],"reason":..}
std::string manifest_line(const PlannedBasket& basket);

}  // namespace brook::shop
