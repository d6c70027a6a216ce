#include "basket_logic.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>

namespace brook::shop {

namespace {

std::string age_key(std::uint64_t opened) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(opened));
  return buf;
}

}  // namespace

void apply_to_lines(std::vector<Line>& lines, const CartEvent& e) {
  if (e.sku.empty()) throw Error(e.op + " without sku in basket '" + e.basket_id + "'");
  auto line =
      std::find_if(lines.begin(), lines.end(), [&](const Line& l) { return l.sku == e.sku; });
  if (e.op == "add") {
    if (e.qty <= 0) {
      throw Error("add of '" + e.sku + "' with qty " + std::to_string(e.qty) + " in basket '" +
                  e.basket_id + "'");
    }
    if (line == lines.end()) {
      lines.push_back(Line{e.sku, e.qty});
    } else if (line->qty > std::numeric_limits<std::int32_t>::max() - e.qty) {
      throw Error("qty overflow for '" + e.sku + "' in basket '" + e.basket_id + "'");
    } else {
      line->qty += e.qty;
    }
    return;
  }
  if (line == lines.end()) return;  // nothing to remove: the end state is right
  if (e.qty > 0 && e.qty < line->qty) {
    line->qty -= e.qty;
  } else {
    lines.erase(line);
  }
}

BasketBook::BasketBook(brook::Node& node, std::size_t max_baskets)
    : max_baskets_(std::max<std::size_t>(1, max_baskets)),
      baskets_(node.state<OpenBasket>("baskets")),
      age_(node.state<std::string>("basket-age")),
      counters_(node.state<std::uint64_t>("basket-book")) {}

std::uint64_t BasketBook::counter(const char* name) const {
  return counters_.get(name).value_or(0);
}

std::uint64_t BasketBook::open() const {
  return counter("open");
}

void BasketBook::forget(const std::string& id, const OpenBasket& basket) {
  baskets_.erase(id);
  age_.erase(age_key(basket.opened));
  counters_.put("open", counter("open") - 1);
}

bool BasketBook::evict_oldest() {
  // Checked-out baskets leave holes in the age index; "oldest" moves past each number once, so
  // the walk costs O(1) per basket ever opened.
  const std::uint64_t next = counter("next");
  std::uint64_t n = counter("oldest");
  bool evicted = false;
  for (; n < next && !evicted; ++n) {
    const auto id = age_.get(age_key(n));
    if (!id) continue;
    if (const auto basket = baskets_.get(*id); basket && basket->opened == n) {
      forget(*id, *basket);
      recently_evicted_.push_back(*id);
      ++evicted_;
      evicted = true;
    } else {
      age_.erase(age_key(n));
    }
  }
  counters_.put("oldest", n);
  return evicted;
}

std::optional<Checkout> BasketBook::apply(const CartEvent& e, std::uint64_t now_ns) {
  if (e.basket_id.empty()) throw Error("cart event without basket_id");
  if (e.op == "checkout") {
    Checkout c;
    c.basket_id = e.basket_id;
    c.client_sent_ns = e.sent_ns;
    c.checkout_ns = now_ns;
    if (auto basket = baskets_.get(e.basket_id)) {
      c.lines = std::move(basket->lines);
      forget(e.basket_id, *basket);
    }
    return c;
  }
  if (e.op != "add" && e.op != "remove") {
    throw Error("unknown cart op '" + e.op + "' for basket '" + e.basket_id + "'");
  }
  auto basket = baskets_.get(e.basket_id);
  OpenBasket b = basket.value_or(OpenBasket{});
  apply_to_lines(b.lines, e);                           // throws before anything is written
  if (!basket && b.lines.empty()) return std::nullopt;  // a remove never opens a basket
  if (!basket) {
    while (open() >= max_baskets_ && evict_oldest()) {
    }  // bounded: each call forgets a basket or finds none
    b.opened = counter("next");
    counters_.put("next", b.opened + 1);
    counters_.put("open", open() + 1);
    age_.put(age_key(b.opened), e.basket_id);
  }
  baskets_.put(e.basket_id, b);
  return std::nullopt;
}

std::vector<std::string> BasketBook::take_evicted() {
  std::vector<std::string> out;
  out.swap(recently_evicted_);
  return out;
}

}  // namespace brook::shop
