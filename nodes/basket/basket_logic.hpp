// Basket: open baskets keyed by basket id, built from cart events until checkout, kept in the
// node's durable state (brook::State) so that a crash neither forgets a basket's adds nor
// replays them: each event's change commits with its acknowledgement and with the checkout it
// emits (docs/reliability.md, "Exactly-once effects").
#pragma once

#include <brook/error.hpp>
#include <brook/node.hpp>
#include <brook/state.hpp>
#include <cstddef>
#include <cstdint>
#include <msgpack.hpp>
#include <optional>
#include <string>
#include <vector>

#include "shop_types.hpp"

namespace brook::shop {

// One open basket as stored: its lines in first-add order and its place in the eviction order.
struct OpenBasket {
  std::vector<Line> lines;
  std::uint64_t opened = 0;  // the book's opening number, oldest = smallest
  MSGPACK_DEFINE_MAP(lines, opened)
};

// What an event does to a basket's lines (add merges qty into the SKU's line, new SKUs keep
// first-add order; remove drops the SKU's line, or lowers its qty when 0 < qty < current).
// Throws brook::Error for an add without sku or with qty <= 0, a remove without sku, or a qty
// overflow; `lines` is unchanged then.
void apply_to_lines(std::vector<Line>& lines, const CartEvent& event);

class BasketBook {
 public:
  // Keeps its baskets in `node`'s state tables "baskets", "basket-age" and "basket-book"; at most
  // `max_baskets` (>= 1) open: opening one more evicts the oldest. Costs per event: a read and a
  // write of the basket; opening or closing one adds a write to the age index and the counters.
  BasketBook(brook::Node& node, std::size_t max_baskets);

  // Applies one event:
  //   add, remove  change the basket's lines (apply_to_lines); a remove never opens a basket;
  //   checkout     returns the Checkout (lines may be empty for an unknown basket, so product
  //                rejects it and it stays accounted for) and forgets the basket.
  // Throws brook::Error for an unknown op, an empty basket_id or a bad add/remove; nothing is
  // changed then. `now_ns` becomes the checkout's checkout_ns.
  std::optional<Checkout> apply(const CartEvent& event, std::uint64_t now_ns);

  std::uint64_t open() const;
  // Evictions since this process started (not kept across restarts: it is a log statistic).
  std::uint64_t evicted() const noexcept { return evicted_; }
  // Ids evicted since the last call (for logging by the caller).
  std::vector<std::string> take_evicted();

 private:
  void forget(const std::string& id, const OpenBasket& basket);
  bool evict_oldest();  // false when nothing is open
  std::uint64_t counter(const char* name) const;

  std::size_t max_baskets_;
  brook::State<OpenBasket> baskets_;
  brook::State<std::string> age_;         // opening number (16 hex digits) -> basket id
  brook::State<std::uint64_t> counters_;  // "next", "oldest", "open"
  std::uint64_t evicted_ = 0;
  std::vector<std::string> recently_evicted_;
};

}  // namespace brook::shop
