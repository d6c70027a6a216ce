#include "pricing_node.hpp"

namespace brook::shop {

PricingService::PricingService(brook::Node& node)
    : out_(node.output<Quote>("out")), rules_(rules_from(node.params())) {
  node.on<ResolvedBasket>("in", [this](const ResolvedBasket& b) { on_basket(b); });
}

void PricingService::on_basket(const ResolvedBasket& basket) {
  if (basket.basket_id.empty()) throw brook::Error("resolved basket without basket_id");
  Quote q = price(basket.lines, rules_);
  q.basket_id = basket.basket_id;
  q.client_sent_ns = basket.client_sent_ns;
  q.handling = basket.handling;
  out_.emit(q, brook::with_key(q.basket_id));
}

}  // namespace brook::shop
