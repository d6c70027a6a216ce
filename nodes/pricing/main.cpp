// brook-shop-pricing: prices each resolved basket (pricing_logic.hpp) and publishes the quote.
//   inputs {in: resolved}  outputs {out: quotes (pubsub)}
#include <brook/node.hpp>

#include "pricing_logic.hpp"
#include "shop_types.hpp"

int main(int argc, char** argv) {
  using namespace brook::shop;
  brook::Node node(argc, argv);
  PricingRules rules;
  try {
    rules = rules_from(node.params());
  } catch (const brook::Error& e) {
    BROOK_LOG(kError) << e.what();
    return 2;
  }
  node.on<ResolvedBasket>("in", [&](const ResolvedBasket& basket) {
    if (basket.basket_id.empty()) throw brook::Error("resolved basket without basket_id");
    Quote q = price(basket.lines, rules);
    q.basket_id = basket.basket_id;
    q.client_sent_ns = basket.client_sent_ns;
    node.emit("out", q, brook::with_key(q.basket_id));
  });
  return node.run();
}
