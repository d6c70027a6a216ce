#include "order_node.hpp"

#include <brook/ids.hpp>

namespace brook::shop {

namespace {

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(brook::wall_clock_ns());
}

}  // namespace

OrderService::OrderService(brook::Node& node)
    : node_(node),
      db_path_(node.params().get<std::string>("db", "shop.db")),
      store_(db_path_, node.instance_name()) {
  BROOK_LOG(kInfo) << "recording orders in " << db_path_;
  node_.on<ResolvedBasket>("baskets", [this](const ResolvedBasket& b) {
    if (store_.record_basket(b, now_ns())) ++completed_;
  });
  node_.on<Quote>("quotes", [this](const Quote& q) {
    if (store_.record_quote(q, now_ns())) ++completed_;
  });
  node_.on<Rejection>("rejections", [this](const Rejection& r) {
    if (store_.record_rejection(r, now_ns())) ++rejections_;
  });
  node_.on_stop([this] {
    BROOK_LOG(kInfo) << completed_ << " orders completed, " << rejections_
                     << " rejections recorded";
  });
}

}  // namespace brook::shop
