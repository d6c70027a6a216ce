#include "product_logic.hpp"

namespace brook::shop {

namespace {

Rejection reject(const Checkout& c, std::string sku, std::string reason, const std::string& by) {
  Rejection r;
  r.basket_id = c.basket_id;
  r.sku = std::move(sku);
  r.reason = std::move(reason);
  r.rejected_by = by;
  r.client_sent_ns = c.client_sent_ns;
  return r;
}

}  // namespace

Resolution resolve(const Checkout& checkout, const Catalog& catalog, const std::string& instance) {
  if (checkout.lines.empty()) return reject(checkout, "", "empty basket", instance);
  ResolvedBasket out;
  out.basket_id = checkout.basket_id;
  out.client_sent_ns = checkout.client_sent_ns;
  out.lines.reserve(checkout.lines.size());
  for (const Line& line : checkout.lines) {
    const CatalogItem* item = catalog.find(line.sku);
    if (item == nullptr) {
      return reject(checkout, line.sku, "unknown SKU '" + line.sku + "'", instance);
    }
    if (line.qty <= 0) {
      return reject(checkout, line.sku,
                    "SKU '" + line.sku + "' qty " + std::to_string(line.qty) + " is not positive",
                    instance);
    }
    if (line.qty > item->stock) {
      return reject(checkout, line.sku,
                    "SKU '" + line.sku + "' qty " + std::to_string(line.qty) + " exceeds stock " +
                        std::to_string(item->stock),
                    instance);
    }
    out.lines.push_back(ResolvedLine{item->sku, item->name, line.qty, item->unit_cents});
  }
  return out;
}

void apply_price_update(Catalog& catalog, const PriceUpdate& update) {
  if (!catalog.set_price(update.sku, update.unit_cents)) {
    throw Error("price update for unknown SKU '" + update.sku + "'");
  }
}

}  // namespace brook::shop
