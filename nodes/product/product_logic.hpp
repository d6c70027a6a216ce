// Product: checks a checkout against the catalog and either resolves it (names and the unit
// prices used) or rejects it with the first problem found. Stock is a per-line limit, never
// decremented: replicas share no state (docs/shop.md).
#pragma once

#include <string>
#include <variant>

#include "catalog.hpp"
#include "shop_types.hpp"

namespace brook::shop {

using Resolution = std::variant<ResolvedBasket, Rejection>;

// `instance` names the deciding instance in a rejection ("product.1").
Resolution resolve(const Checkout& checkout, const Catalog& catalog, const std::string& instance);

// Applies a catalog price update. Throws brook::Error for an unknown SKU or a negative price.
void apply_price_update(Catalog& catalog, const PriceUpdate& update);

}  // namespace brook::shop
