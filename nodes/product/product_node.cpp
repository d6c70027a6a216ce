#include "product_node.hpp"

#include <brook/ids.hpp>
#include <string>
#include <variant>

#include "product_logic.hpp"

namespace brook::shop {

ProductService::ProductService(brook::Node& node)
    : node_(node),
      resolved_out_(node.output<ResolvedBasket>("out")),
      rejected_out_(node.output<Rejection>("rejected")),
      handling_prefix_(node.instance_name() + "@" + brook::random_id() + "#") {
  const auto path = resolve_near(node_.topology().file,
                                 node_.params().get<std::string>("catalog", "data/catalog.csv"));
  catalog_ = load_catalog(path);
  BROOK_LOG(kInfo) << "catalog " << path.string() << ": " << catalog_.size() << " SKUs";
  node_.on<Checkout>("in", [this](const Checkout& c) { on_checkout(c); });
  // Only shop-scaled.yaml wires price updates.
  node_.on<PriceUpdate>(
      "updates", [this](const PriceUpdate& u) { on_price_update(u); }, brook::optional_port);
  node_.on_stop(
      [this] { BROOK_LOG(kInfo) << "resolved " << resolved_ << ", rejected " << rejected_; });
}

void ProductService::on_checkout(const Checkout& c) {
  if (c.basket_id.empty()) throw brook::Error("checkout without basket_id");
  Resolution r = resolve(c, catalog_, node_.instance_name());
  if (auto* ok = std::get_if<ResolvedBasket>(&r)) {
    ok->handling = handling_prefix_ + std::to_string(++handlings_);
    resolved_out_.emit(*ok, brook::with_key(ok->basket_id));
    ++resolved_;
  } else {
    const Rejection& no = std::get<Rejection>(r);
    BROOK_LOG(kDebug) << "rejected " << no.basket_id << ": " << no.reason;
    rejected_out_.emit(no, brook::with_key(no.basket_id));
    ++rejected_;
  }
}

void ProductService::on_price_update(const PriceUpdate& u) {
  apply_price_update(catalog_, u);
  BROOK_LOG(kDebug) << "price of " << u.sku << " now " << u.unit_cents << " (v" << u.version << ")";
}

}  // namespace brook::shop
