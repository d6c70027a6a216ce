// Basket: open baskets keyed by basket id, built from cart events until checkout.
#pragma once

#include <brook/error.hpp>
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "shop_types.hpp"

namespace brook::shop {

class BasketBook {
 public:
  // At most `max_baskets` (>= 1) open baskets; opening one more evicts the oldest.
  explicit BasketBook(std::size_t max_baskets);

  // Applies one event:
  //   add       merges qty into the SKU's line (new SKUs keep first-add order);
  //   remove    drops the SKU's line, or lowers its qty when 0 < qty < current;
  //   checkout  returns the Checkout (lines may be empty for an unknown basket, so product
  //             rejects it and it stays accounted for) and forgets the basket.
  // Throws brook::Error for an unknown op, an empty basket_id or sku, or add with qty <= 0; the
  // book is unchanged then. `now_ns` becomes the checkout's checkout_ns.
  std::optional<Checkout> apply(const CartEvent& event, std::uint64_t now_ns);

  std::size_t open() const noexcept { return baskets_.size(); }
  std::uint64_t evicted() const noexcept { return evicted_; }
  // Ids evicted since the last call (for logging by the caller).
  std::vector<std::string> take_evicted();

 private:
  struct Open {
    std::vector<Line> lines;
    std::list<std::string>::iterator age;  // position in age_
  };
  Open& open_basket(const std::string& id);

  std::size_t max_baskets_;
  std::unordered_map<std::string, Open> baskets_;
  std::list<std::string> age_;  // oldest first
  std::uint64_t evicted_ = 0;
  std::vector<std::string> recently_evicted_;
};

}  // namespace brook::shop
