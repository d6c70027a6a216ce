// brook-shop-product: resolves checkouts against the catalog CSV (param `catalog`, relative to the
// topology file's directory).
//   inputs {in: checkouts, updates: price-updates (optional, pubsub)}
//   outputs {out: resolved, rejected: rejections}
#include <brook/node.hpp>

#include "catalog.hpp"
#include "product_logic.hpp"
#include "shop_types.hpp"

#include <iostream>

int main(int argc, char** argv) {
  using namespace brook::shop;
  brook::Node node(argc, argv);
  Catalog catalog;
  try {
    const auto path = resolve_near(node.topology().file,
                                   node.params().get<std::string>("catalog", "data/catalog.csv"));
    catalog = load_catalog(path);
    BROOK_LOG(kInfo) << "catalog " << path.string() << ": " << catalog.size() << " SKUs";
  } catch (const brook::Error& e) {
    std::cerr << "brook-shop-product: " << e.what() << "\n";
    return 2;
  }
  std::uint64_t resolved = 0;
  std::uint64_t rejected = 0;
  node.on<Checkout>("in", [&](const Checkout& c) {
    if (c.basket_id.empty()) throw brook::Error("checkout without basket_id");
    Resolution r = resolve(c, catalog, node.instance_name());
    if (auto* ok = std::get_if<ResolvedBasket>(&r)) {
      node.emit("out", *ok, brook::with_key(ok->basket_id));
      ++resolved;
    } else {
      const Rejection& no = std::get<Rejection>(r);
      BROOK_LOG(kDebug) << "rejected " << no.basket_id << ": " << no.reason;
      node.emit("rejected", no, brook::with_key(no.basket_id));
      ++rejected;
    }
  });
  // Only shop-scaled.yaml wires price updates; a handler for an undeclared port is an error.
  if (node.spec().input("updates") != nullptr) {
    node.on<PriceUpdate>("updates", [&](const PriceUpdate& u) {
      apply_price_update(catalog, u);
      BROOK_LOG(kDebug) << "price of " << u.sku << " now " << u.unit_cents << " (v" << u.version
                        << ")";
    });
  }
  node.on_stop([&] {
    BROOK_LOG(kInfo) << "resolved " << resolved << ", rejected " << rejected;
  });
  return node.run();
}
