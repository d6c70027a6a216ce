#include "basket_node.hpp"

#include <brook/ids.hpp>

namespace brook::shop {

namespace {

std::uint64_t max_baskets_of(const brook::Params& params) {
  const auto max = params.get<std::uint64_t>("max_baskets", 100000);
  if (max == 0) throw brook::ConfigError("param max_baskets must be >= 1");
  return max;
}

}  // namespace

BasketService::BasketService(brook::Node& node)
    : node_(node),
      out_(node.output<Checkout>("out")),
      max_baskets_(max_baskets_of(node.params())),
      book_(node, max_baskets_) {
  node_.on<CartEvent>("in", [this](const CartEvent& e) { on_event(e); });
  node_.on_stop([this] {
    BROOK_LOG(kInfo) << checkouts_ << " checkouts, " << book_.open() << " baskets open, "
                     << book_.evicted() << " evicted";
  });
}

void BasketService::on_event(const CartEvent& e) {
  auto checkout = book_.apply(e, static_cast<std::uint64_t>(brook::wall_clock_ns()));
  for (const auto& id : book_.take_evicted()) {
    std::uint64_t suppressed = 0;
    if (evict_log_.allow(suppressed)) {
      BROOK_LOG(kWarn) << "evicted open basket " << id << " (max_baskets " << max_baskets_
                       << " reached; " << suppressed << " more evictions not logged)";
    }
  }
  if (checkout) {
    out_.emit(*checkout, brook::with_key(checkout->basket_id));
    ++checkouts_;
  }
}

}  // namespace brook::shop
