// The pricing service on a node: each resolved basket becomes a quote (pricing_logic.hpp).
//   inputs {in: resolved}  outputs {out: quotes}
//   params: bulk_min_qty, bulk_percent, threshold_cents, threshold_off_cents, tax_bp
#pragma once

#include <brook/node.hpp>

#include "pricing_logic.hpp"

namespace brook::shop {

class PricingService {
 public:
  // Reads the pricing rules and registers the handler; throws brook::ConfigError for a bad param.
  explicit PricingService(brook::Node& node);
  PricingService(const PricingService&) = delete;
  PricingService& operator=(const PricingService&) = delete;

 private:
  void on_basket(const ResolvedBasket& basket);

  brook::Output<Quote> out_;
  PricingRules rules_;
};

}  // namespace brook::shop
