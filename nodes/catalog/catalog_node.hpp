// The catalog service on a node: broadcasts price updates, one every `period`, to every product
// instance (catalog_logic.hpp).
//   outputs {out: price-updates (pubsub)}
//   params: catalog, period (default 1s), updates [{sku, unit_cents}] or step_percent (default 10)
#pragma once

#include <brook/node.hpp>
#include <chrono>

#include "catalog.hpp"
#include "catalog_logic.hpp"

namespace brook::shop {

class CatalogService {
 public:
  // Loads the catalog and the schedule, and starts the updates once the node is ready; throws
  // brook::Error for a bad catalog or param.
  explicit CatalogService(brook::Node& node);
  CatalogService(const CatalogService&) = delete;
  CatalogService& operator=(const CatalogService&) = delete;

 private:
  void send_next();

  brook::Node& node_;
  brook::Output<PriceUpdate> out_;
  Catalog catalog_;
  PriceSchedule schedule_;
  std::chrono::milliseconds period_;
};

}  // namespace brook::shop
