#include "catalog_node.hpp"

#include <brook/ids.hpp>
#include <string>

namespace brook::shop {

CatalogService::CatalogService(brook::Node& node)
    : node_(node),
      out_(node.output<PriceUpdate>("out")),
      catalog_(load_catalog(resolve_near(
          node.topology().file, node.params().get<std::string>("catalog", "data/catalog.csv")))),
      schedule_(catalog_, changes_from(node.params(), catalog_),
                node.params().get<std::int64_t>("step_percent", 10)),
      period_(node.params().get<std::chrono::milliseconds>("period", std::chrono::seconds(1))) {
  node_.on_ready([this] { node_.every(period_, [this] { send_next(); }); });
}

void CatalogService::send_next() {
  PriceUpdate u = schedule_.next();
  u.sent_ns = static_cast<std::uint64_t>(brook::wall_clock_ns());
  out_.emit(u, brook::with_key(u.sku));
  BROOK_LOG(kDebug) << "price of " << u.sku << " -> " << u.unit_cents << " (v" << u.version << ")";
}

}  // namespace brook::shop
