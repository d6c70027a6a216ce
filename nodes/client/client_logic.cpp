#include "client_logic.hpp"

#include <algorithm>
#include <brook/error.hpp>
#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

namespace brook::shop {

namespace {

constexpr int kMaxAdds = 5;
constexpr int kMaxQty = 4;
constexpr int kRemovePercent = 25;
constexpr int kPickAttempts = 64;

CartEvent event(const std::string& id, const char* op, std::string sku, std::int32_t qty) {
  CartEvent e;
  e.basket_id = id;
  e.op = op;
  e.sku = std::move(sku);
  e.qty = qty;
  return e;
}

// Which invalid basket this is (0, 1, ...), or -1 for a valid one: n is invalid when the running
// count floor((n + 1) * ratio) steps up, which spreads them evenly at exactly the ratio.
std::int64_t invalid_index(std::uint64_t n, double ratio) {
  const auto before = static_cast<std::int64_t>(std::floor(static_cast<double>(n) * ratio));
  const auto after = static_cast<std::int64_t>(std::floor(static_cast<double>(n + 1) * ratio));
  return after > before ? before : -1;
}

}  // namespace

std::string basket_id(const std::string& run, std::uint64_t n) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%06llu", static_cast<unsigned long long>(n));
  return run + "-" + digits;
}

BasketPlanner::BasketPlanner(const Catalog& catalog, std::string run, std::uint64_t seed,
                             double invalid_ratio)
    : catalog_(catalog), run_(std::move(run)), invalid_ratio_(invalid_ratio), rng_(seed) {
  if (!(invalid_ratio >= 0.0 && invalid_ratio <= 1.0)) {
    throw Error("invalid_ratio must be within [0, 1], got " + std::to_string(invalid_ratio));
  }
  if (std::none_of(catalog.items().begin(), catalog.items().end(),
                   [](const CatalogItem& i) { return i.stock > 0; })) {
    throw Error("the catalog has no SKU in stock: cannot build valid baskets");
  }
}

std::int64_t BasketPlanner::uniform(std::int64_t lo, std::int64_t hi) {
  const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
  return lo + static_cast<std::int64_t>(rng_() % span);
}

std::int32_t BasketPlanner::held(const PlannedBasket& b, const std::string& sku) const {
  for (const Line& l : b.lines) {
    if (l.sku == sku) return l.qty;
  }
  return 0;
}

void BasketPlanner::add(PlannedBasket& b, const std::string& sku, std::int32_t qty) {
  b.events.push_back(event(b.basket_id, "add", sku, qty));
  for (Line& l : b.lines) {
    if (l.sku == sku) {
      l.qty += qty;
      return;
    }
  }
  b.lines.push_back(Line{sku, qty});
}

void BasketPlanner::remove_one(PlannedBasket& b) {
  const auto i =
      static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(b.lines.size()) - 1));
  Line& line = b.lines[i];
  if (line.qty >= 2 && uniform(0, 1) == 0) {
    const auto less = static_cast<std::int32_t>(uniform(1, line.qty - 1));
    b.events.push_back(event(b.basket_id, "remove", line.sku, less));
    line.qty -= less;
  } else if (b.lines.size() >= 2) {  // never empty a valid basket
    b.events.push_back(event(b.basket_id, "remove", line.sku, 0));
    b.lines.erase(b.lines.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

void BasketPlanner::make_over_stock(PlannedBasket& b) {
  const auto& items = catalog_.items();
  const CatalogItem* pick = nullptr;
  for (int a = 0; a < kPickAttempts && pick == nullptr; ++a) {
    const auto& it =
        items[static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(items.size()) - 1))];
    if (held(b, it.sku) == 0 && it.stock <= std::numeric_limits<std::int32_t>::max() - 3)
      pick = &it;
  }
  if (pick == nullptr) pick = &items.front();
  const std::int32_t over =
      pick->stock + 1 + static_cast<std::int32_t>(uniform(0, 2)) - held(b, pick->sku);
  add(b, pick->sku, over);
  b.reason = "SKU '" + pick->sku + "' qty " + std::to_string(held(b, pick->sku)) +
             " exceeds stock " + std::to_string(pick->stock);
}

PlannedBasket BasketPlanner::plan(std::uint64_t n) {
  PlannedBasket b;
  b.basket_id = basket_id(run_, n);
  const auto& items = catalog_.items();
  const auto adds = uniform(1, kMaxAdds);
  for (std::int64_t k = 0; k < adds; ++k) {
    for (int a = 0; a < kPickAttempts; ++a) {
      const auto& it =
          items[static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(items.size()) - 1))];
      const std::int32_t room = it.stock - held(b, it.sku);
      if (room <= 0) continue;
      add(b, it.sku, static_cast<std::int32_t>(uniform(1, std::min(kMaxQty, room))));
      break;
    }
  }
  if (b.lines.empty()) {  // every pick hit an exhausted SKU: fall back to the first in stock
    const auto it =
        std::find_if(items.begin(), items.end(), [](const CatalogItem& i) { return i.stock > 0; });
    add(b, it->sku, 1);
  }
  if (uniform(0, 99) < kRemovePercent) remove_one(b);

  // Invalid lines come last, after any remove, so they survive and are the first problem.
  const std::int64_t bad = invalid_index(n, invalid_ratio_);
  if (bad >= 0) {
    b.valid = false;
    if (bad % 2 == 0) {
      char sku[32];
      std::snprintf(sku, sizeof sku, "ZZ-%06llu", static_cast<unsigned long long>(n));
      add(b, sku, static_cast<std::int32_t>(uniform(1, kMaxQty)));
      b.reason = "unknown SKU '" + std::string(sku) + "'";
    } else {
      make_over_stock(b);
    }
  }
  b.events.push_back(event(b.basket_id, "checkout", "", 0));
  return b;
}

std::string manifest_line(const PlannedBasket& b) {
  nlohmann::ordered_json j;
  j["basket_id"] = b.basket_id;
  j["valid"] = b.valid;
  j["lines"] = nlohmann::ordered_json::array();
  for (const Line& l : b.lines)
    j["lines"].push_back({{"sku", l.sku}, {"qty", l.qty}});
  j["reason"] = b.reason;
  return j.dump();
}

}  // namespace brook::shop
