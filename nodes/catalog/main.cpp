// brook-shop-catalog: broadcasts price updates, one every `period`, to every product instance.
//   outputs {out: price-updates (pubsub)}
//   params: catalog, period (default 1s), updates [{sku, unit_cents}] or step_percent (default 10)
#include <brook/ids.hpp>
#include <brook/node.hpp>

#include "catalog.hpp"
#include "catalog_logic.hpp"
#include "shop_types.hpp"

#include <iostream>
#include <optional>

int main(int argc, char** argv) {
  using namespace brook::shop;
  brook::Node node(argc, argv);
  Catalog catalog;
  std::optional<PriceSchedule> schedule;
  std::chrono::milliseconds period{};
  try {
    catalog = load_catalog(resolve_near(node.topology().file,
                                        node.params().get<std::string>("catalog", "data/catalog.csv")));
    schedule.emplace(catalog, changes_from(node.params(), catalog),
                     node.params().get<std::int64_t>("step_percent", 10));
    period = node.params().get<std::chrono::milliseconds>("period", std::chrono::milliseconds(1000));
  } catch (const brook::Error& e) {
    std::cerr << "brook-shop-catalog: " << e.what() << "\n";
    return 2;
  }
  node.on_ready([&] {
    node.every(period, [&] {
      PriceUpdate u = schedule->next();
      u.sent_ns = static_cast<std::uint64_t>(brook::wall_clock_ns());
      node.emit("out", u, brook::with_key(u.sku));
      BROOK_LOG(kDebug) << "price of " << u.sku << " -> " << u.unit_cents << " (v" << u.version << ")";
    });
  });
  return node.run();
}
