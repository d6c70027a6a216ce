// The product service on a node: resolves checkouts against the catalog (product_logic.hpp).
//   inputs {in: checkouts, updates: price-updates (optional, pubsub)}
//   outputs {out: resolved, rejected: rejections}
//   params: catalog (CSV, relative to the topology file's directory; default data/catalog.csv)
#pragma once

#include <brook/node.hpp>
#include <cstdint>
#include <string>

#include "catalog.hpp"
#include "shop_types.hpp"

namespace brook::shop {

class ProductService {
 public:
  // Loads the catalog and registers the handlers (`updates` only when the topology wires it)
  // and the on_stop summary; throws brook::Error (CatalogError: "file:line: ...") for a bad
  // catalog.
  explicit ProductService(brook::Node& node);
  ProductService(const ProductService&) = delete;
  ProductService& operator=(const ProductService&) = delete;

 private:
  void on_checkout(const Checkout& checkout);
  void on_price_update(const PriceUpdate& update);

  brook::Node& node_;
  brook::Output<ResolvedBasket> resolved_out_;
  brook::Output<Rejection> rejected_out_;
  Catalog catalog_;
  std::string handling_prefix_;  // random per process: handlings differ across restarts
  std::uint64_t handlings_ = 0;
  std::uint64_t resolved_ = 0;
  std::uint64_t rejected_ = 0;
};

}  // namespace brook::shop
