#include "basket_logic.hpp"

#include <algorithm>
#include <brook/error.hpp>
#include <limits>

namespace brook::shop {

BasketBook::BasketBook(std::size_t max_baskets)
    : max_baskets_(std::max<std::size_t>(1, max_baskets)) {}

BasketBook::Open& BasketBook::open_basket(const std::string& id) {
  if (auto it = baskets_.find(id); it != baskets_.end()) return it->second;
  while (baskets_.size() >= max_baskets_) {
    recently_evicted_.push_back(age_.front());
    baskets_.erase(age_.front());
    age_.pop_front();
    ++evicted_;
  }
  age_.push_back(id);
  Open& b = baskets_[id];
  b.age = std::prev(age_.end());
  return b;
}

std::optional<Checkout> BasketBook::apply(const CartEvent& e, std::uint64_t now_ns) {
  if (e.basket_id.empty()) throw Error("cart event without basket_id");
  if (e.op == "add") {
    if (e.sku.empty()) throw Error("add without sku in basket '" + e.basket_id + "'");
    if (e.qty <= 0) {
      throw Error("add of '" + e.sku + "' with qty " + std::to_string(e.qty) + " in basket '" +
                  e.basket_id + "'");
    }
    Open& b = open_basket(e.basket_id);
    auto line =
        std::find_if(b.lines.begin(), b.lines.end(), [&](const Line& l) { return l.sku == e.sku; });
    if (line == b.lines.end()) {
      b.lines.push_back(Line{e.sku, e.qty});
    } else if (line->qty > std::numeric_limits<std::int32_t>::max() - e.qty) {
      throw Error("qty overflow for '" + e.sku + "' in basket '" + e.basket_id + "'");
    } else {
      line->qty += e.qty;
    }
    return std::nullopt;
  }
  if (e.op == "remove") {
    if (e.sku.empty()) throw Error("remove without sku in basket '" + e.basket_id + "'");
    auto it = baskets_.find(e.basket_id);
    if (it == baskets_.end()) return std::nullopt;  // nothing to remove: the end state is right
    auto& lines = it->second.lines;
    auto line =
        std::find_if(lines.begin(), lines.end(), [&](const Line& l) { return l.sku == e.sku; });
    if (line == lines.end()) return std::nullopt;
    if (e.qty > 0 && e.qty < line->qty) {
      line->qty -= e.qty;
    } else {
      lines.erase(line);
    }
    return std::nullopt;
  }
  if (e.op == "checkout") {
    Checkout c;
    c.basket_id = e.basket_id;
    c.client_sent_ns = e.sent_ns;
    c.checkout_ns = now_ns;
    if (auto it = baskets_.find(e.basket_id); it != baskets_.end()) {
      c.lines = std::move(it->second.lines);
      age_.erase(it->second.age);
      baskets_.erase(it);
    }
    return c;
  }
  throw Error("unknown cart op '" + e.op + "' for basket '" + e.basket_id + "'");
}

std::vector<std::string> BasketBook::take_evicted() {
  std::vector<std::string> out;
  out.swap(recently_evicted_);
  return out;
}

}  // namespace brook::shop
