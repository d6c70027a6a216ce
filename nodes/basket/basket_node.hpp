// The basket service on a node: builds baskets from cart events in the node's durable state and
// emits a checkout per basket (basket_logic.hpp); its output must be durable.
//   inputs {in: cart}  outputs {out: checkouts}   params: max_baskets (default 100000, >= 1)
#pragma once

#include <brook/log.hpp>
#include <brook/node.hpp>
#include <cstdint>

#include "basket_logic.hpp"

namespace brook::shop {

class BasketService {
 public:
  // Reads max_baskets and registers the handler and the on_stop summary; throws
  // brook::ConfigError for a bad max_baskets.
  explicit BasketService(brook::Node& node);
  BasketService(const BasketService&) = delete;
  BasketService& operator=(const BasketService&) = delete;

 private:
  void on_event(const CartEvent& event);

  brook::Node& node_;
  brook::Output<Checkout> out_;
  std::uint64_t max_baskets_;
  BasketBook book_;
  brook::LogRateLimiter evict_log_;
  std::uint64_t checkouts_ = 0;
};

}  // namespace brook::shop
