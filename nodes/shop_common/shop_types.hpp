// The shop's wire contract: every payload exchanged between shop services (docs/shop.md).
// Field names are the msgpack map keys; changing one breaks other services and tools.
#pragma once

#include <cstdint>
#include <msgpack.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace brook::shop {

// client -> basket on `cart`, key = basket_id.
struct CartEvent {
  static constexpr std::string_view kTypeName = "shop.CartEvent";
  std::string basket_id;
  std::string op;  // "add" | "remove" | "checkout"
  std::string sku;
  std::int32_t qty = 0;
  std::uint64_t sent_ns = 0;  // wall clock when the client emitted it
  MSGPACK_DEFINE_MAP(basket_id, op, sku, qty, sent_ns)
};

struct Line {
  static constexpr std::string_view kTypeName = "shop.Line";
  std::string sku;
  std::int32_t qty = 0;
  MSGPACK_DEFINE_MAP(sku, qty)
  friend bool operator==(const Line&, const Line&) = default;
};

// basket -> product on `checkouts`, key = basket_id.
struct Checkout {
  static constexpr std::string_view kTypeName = "shop.Checkout";
  std::string basket_id;
  std::vector<Line> lines;
  std::uint64_t client_sent_ns = 0;  // sent_ns of the checkout CartEvent
  std::uint64_t checkout_ns = 0;
  MSGPACK_DEFINE_MAP(basket_id, lines, client_sent_ns, checkout_ns)
};

struct ResolvedLine {
  static constexpr std::string_view kTypeName = "shop.ResolvedLine";
  std::string sku;
  std::string name;
  std::int32_t qty = 0;
  std::int64_t unit_cents = 0;  // the price product used, so totals can be re-checked later
  MSGPACK_DEFINE_MAP(sku, name, qty, unit_cents)
  friend bool operator==(const ResolvedLine&, const ResolvedLine&) = default;
};

// product -> {pricing, order} on `resolved`.
struct ResolvedBasket {
  static constexpr std::string_view kTypeName = "shop.ResolvedBasket";
  std::string basket_id;
  std::vector<ResolvedLine> lines;
  std::uint64_t client_sent_ns = 0;
  // Names this resolution of the checkout: a checkout handled twice (a re-send after a crash)
  // may be resolved with other prices, and order joins lines and quote of the same handling.
  std::string handling;
  MSGPACK_DEFINE_MAP(basket_id, lines, client_sent_ns, handling)
};

// product -> order on `rejections`.
struct Rejection {
  static constexpr std::string_view kTypeName = "shop.Rejection";
  std::string basket_id;
  std::string sku;
  std::string reason;       // human readable: "unknown SKU 'ZZ-404'"
  std::string rejected_by;  // instance name, "product.1"
  std::uint64_t client_sent_ns = 0;
  MSGPACK_DEFINE_MAP(basket_id, sku, reason, rejected_by, client_sent_ns)
};

// pricing -> order on `quotes` (a pipeline: every quote must reach the order store).
struct Quote {
  static constexpr std::string_view kTypeName = "shop.Quote";
  std::string basket_id;
  std::int64_t subtotal_cents = 0;
  std::int64_t discount_cents = 0;
  std::int64_t tax_cents = 0;
  std::int64_t total_cents = 0;
  std::uint64_t client_sent_ns = 0;
  std::string handling;  // the priced ResolvedBasket's
  MSGPACK_DEFINE_MAP(basket_id, subtotal_cents, discount_cents, tax_cents, total_cents,
                     client_sent_ns, handling)
};

// catalog -> every product instance on `price-updates` (pubsub, shop-scaled.yaml only).
struct PriceUpdate {
  static constexpr std::string_view kTypeName = "shop.PriceUpdate";
  std::string sku;
  std::int64_t unit_cents = 0;
  std::uint64_t version = 0;  // increases per update from one catalog instance
  std::uint64_t sent_ns = 0;
  MSGPACK_DEFINE_MAP(sku, unit_cents, version, sent_ns)
};

}  // namespace brook::shop
