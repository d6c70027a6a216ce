// brook-shop-order: records orders, their quotes and rejections in SQLite (order_logic.hpp).
//   inputs {baskets: resolved, quotes: quotes (pubsub), rejections: rejections}
//   params: db (path relative to the current directory, default shop.db)
#include <brook/ids.hpp>
#include <brook/node.hpp>

#include "order_logic.hpp"
#include "shop_types.hpp"

#include <iostream>
#include <memory>

int main(int argc, char** argv) {
  using namespace brook::shop;
  brook::Node node(argc, argv);
  std::unique_ptr<OrderStore> store;
  try {
    const auto path = node.params().get<std::string>("db", "shop.db");
    store = std::make_unique<OrderStore>(path, node.instance_name());
    BROOK_LOG(kInfo) << "recording orders in " << path;
  } catch (const brook::Error& e) {
    std::cerr << "brook-shop-order: " << e.what() << "\n";
    return 2;
  }
  auto now = [] { return static_cast<std::uint64_t>(brook::wall_clock_ns()); };
  std::uint64_t completed = 0;
  std::uint64_t rejections = 0;
  node.on<ResolvedBasket>("baskets", [&](const ResolvedBasket& b) {
    if (store->record_basket(b, now())) ++completed;
  });
  node.on<Quote>("quotes", [&](const Quote& q) {
    if (store->record_quote(q, now())) ++completed;
  });
  node.on<Rejection>("rejections", [&](const Rejection& r) {
    if (store->record_rejection(r, now())) ++rejections;
  });
  node.on_stop([&] {
    BROOK_LOG(kInfo) << completed << " orders completed, " << rejections << " rejections recorded";
  });
  return node.run();
}
