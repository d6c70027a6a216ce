// brook-shop-basket: builds baskets from cart events and emits a checkout per basket.
//   inputs {in: cart}  outputs {out: checkouts}   params: max_baskets (default 100000)
#include <brook/ids.hpp>
#include <brook/node.hpp>

#include "basket_logic.hpp"
#include "shop_types.hpp"

int main(int argc, char** argv) {
  using namespace brook::shop;
  brook::Node node(argc, argv);
  const auto max_baskets = node.params().get<std::uint64_t>("max_baskets", 100000);
  if (max_baskets == 0) {
    BROOK_LOG(kError) << "param max_baskets must be >= 1";
    return 2;
  }
  BasketBook book(max_baskets);
  brook::LogRateLimiter evict_log;
  std::uint64_t checkouts = 0;
  node.on<CartEvent>("in", [&](const CartEvent& e) {
    auto checkout = book.apply(e, static_cast<std::uint64_t>(brook::wall_clock_ns()));
    for (const auto& id : book.take_evicted()) {
      std::uint64_t suppressed = 0;
      if (evict_log.allow(suppressed)) {
        BROOK_LOG(kWarn) << "evicted open basket " << id << " (max_baskets " << max_baskets
                         << " reached; " << suppressed << " more evictions not logged)";
      }
    }
    if (checkout) {
      node.emit("out", *checkout, brook::with_key(checkout->basket_id));
      ++checkouts;
    }
  });
  node.on_stop([&] {
    BROOK_LOG(kInfo) << checkouts << " checkouts, " << book.open() << " baskets open, "
                     << book.evicted() << " evicted";
  });
  return node.run();
}
