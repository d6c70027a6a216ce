// The shop's pipeline services as deployed by topologies/shop.yaml and shop-scaled.yaml, each
// built on a brook::testing::TestNode: their wiring (ports, keys, params, on_stop) without
// processes or sockets. Their plain logic has its own *_logic_test; the catalog and the client,
// which run on timers, are in shop_sources_test.cpp.
#include "support/shop_nodes.hpp"

#include <gtest/gtest.h>

#include <brook/testing.hpp>

#include "basket_node.hpp"
#include "order_node.hpp"
#include "pricing_node.hpp"
#include "product_node.hpp"
#include "service.hpp"

namespace brook::shop {
namespace {

using namespace brook::shop::test;

using ShopOrderNode = WithTempDir;

// ---- basket ----------------------------------------------------------------------------------

TEST(ShopBasketNode, CartEventsBecomeOneCheckoutKeyedByBasket) {
  auto t = TestNode::from_file(kShop, "basket", quiet());
  BasketService service(t.node());
  t.start();
  EXPECT_EQ(t.send("in", cart("b1", "add", "A-100", 2)).outcome, Outcome::kHandled);
  t.send("in", cart("b1", "add", "B-200", 1));
  t.send("in", cart("b2", "add", "C-300", 5));
  t.send("in", cart("b1", "add", "A-100", 1));
  EXPECT_TRUE(t.emitted("out").empty()) << "nothing leaves before the checkout";
  CartEvent checkout = cart("b1", "checkout");
  checkout.sent_ns = 77;
  const auto& d = t.send("in", checkout);
  EXPECT_EQ(d.outcome, Outcome::kHandled);
  EXPECT_TRUE(d.acknowledged);

  ASSERT_EQ(t.emitted("out").size(), 1u);
  EXPECT_EQ(t.emitted("out")[0].key(), "b1");
  EXPECT_EQ(t.emitted("out")[0].envelope.channel, "checkouts");
  const auto c = t.emitted_as<Checkout>("out")[0];
  EXPECT_EQ(c.basket_id, "b1");
  EXPECT_EQ(c.lines, (std::vector<Line>{{"A-100", 3}, {"B-200", 1}}));
  EXPECT_EQ(c.client_sent_ns, 77u);
  EXPECT_GT(c.checkout_ns, 0u);
}

TEST(ShopBasketNode, ACheckoutOfAnUnknownBasketHasNoLines) {
  auto t = TestNode::from_file(kShop, "basket", quiet());
  BasketService service(t.node());
  t.start();
  t.send("in", cart("b1", "add", "A-100", 1));
  t.send("in", cart("b1", "checkout"));
  t.send("in", cart("b1", "checkout"));  // forgotten after the first checkout
  t.send("in", cart("never", "checkout"));
  const auto out = t.emitted_as<Checkout>("out");
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].lines.size(), 1u);
  EXPECT_TRUE(out[1].lines.empty());
  EXPECT_EQ(out[2].basket_id, "never");
  EXPECT_TRUE(out[2].lines.empty()) << "product rejects it as an empty basket";
  EXPECT_EQ(t.emitted("out")[2].key(), "never");
}

TEST(ShopBasketNode, EvictsTheOldestOpenBasketBeyondMaxBaskets) {
  auto t =
      TestNode::from_file(kShop, "basket", quiet().with_override("basket.params.max_baskets=2"));
  BasketService service(t.node());
  t.start();
  t.send("in", cart("b1", "add", "A-100", 1));
  t.send("in", cart("b2", "add", "A-101", 1));
  t.send("in", cart("b3", "add", "A-102", 1));  // evicts b1
  t.send("in", cart("b1", "checkout"));
  t.send("in", cart("b2", "checkout"));
  const auto out = t.emitted_as<Checkout>("out");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].lines.empty());
  EXPECT_EQ(out[1].lines, (std::vector<Line>{{"A-101", 1}}));
}

TEST(ShopBasketNode, ABadEventIsAFailedDeliveryAndEmitsNothing) {
  auto t = TestNode::from_file(kShop, "basket", quiet());
  BasketService service(t.node());
  t.start();
  const auto& d = t.send("in", cart("b1", "frobnicate", "A-100", 1));
  EXPECT_EQ(d.outcome, Outcome::kFailed);
  EXPECT_EQ(d.errors, std::vector<std::string>{"unknown cart op 'frobnicate' for basket 'b1'"});
  EXPECT_EQ(t.counters("cart").handler_errors, 1u);
  EXPECT_TRUE(t.emitted("out").empty());
}

TEST(ShopBasketNode, ZeroMaxBasketsMakesRunServiceExit2) {
  auto t =
      TestNode::from_file(kShop, "basket", quiet().with_override("basket.params.max_baskets=0"));
  ::testing::internal::CaptureStderr();
  const int rc = run_service<BasketService>(t.node(), "brook-shop-basket");
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(rc, 2);
  EXPECT_EQ(err, "brook-shop-basket: param max_baskets must be >= 1\n");
}

// ---- product ---------------------------------------------------------------------------------

TEST(ShopProductNode, KnownSkusResolveWithTheCatalogsPrices) {
  auto t = TestNode::from_file(kShop, "product", quiet());
  ProductService service(t.node());
  t.start();
  const auto& d = t.send("in", Checkout{"b1", {{"A-100", 2}, {"B-200", 1}}, 55, 66});
  EXPECT_EQ(d.outcome, Outcome::kHandled);
  ASSERT_EQ(t.emitted("out").size(), 1u);
  EXPECT_EQ(t.emitted("out")[0].key(), "b1");
  const auto r = t.emitted_as<ResolvedBasket>("out")[0];
  EXPECT_EQ(r.basket_id, "b1");
  EXPECT_EQ(r.client_sent_ns, 55u);
  EXPECT_EQ(r.lines, (std::vector<ResolvedLine>{{"A-100", "Espresso beans 1kg", 2, 1899},
                                                {"B-200", "Ceramic mug", 1, 1250}}));
  EXPECT_TRUE(t.emitted("rejected").empty());
  EXPECT_THROW(t.send("updates", PriceUpdate{"A-100", 1, 1, 0}), ConfigError)
      << "shop.yaml wires no price updates: the optional port is left out";
}

TEST(ShopProductNode, ProblemsBecomeOneRejectionEach) {
  auto t = TestNode::from_file(kShop, "product", quiet().with_instance(1));
  ProductService service(t.node());
  t.start();
  t.send("in", Checkout{"b1", {{"A-100", 1}, {"ZZ-404", 1}, {"B-208", 9}}, 5, 0});
  t.send("in", Checkout{"b2", {{"B-208", 4}}, 6, 0});
  t.send("in", Checkout{"b3", {}, 7, 0});
  EXPECT_TRUE(t.emitted("out").empty());
  const auto no = t.emitted_as<Rejection>("rejected");
  ASSERT_EQ(no.size(), 3u);
  EXPECT_EQ(no[0].basket_id, "b1");
  EXPECT_EQ(no[0].sku, "ZZ-404");
  EXPECT_EQ(no[0].reason, "unknown SKU 'ZZ-404'");
  EXPECT_EQ(no[0].rejected_by, "product.1");
  EXPECT_EQ(no[0].client_sent_ns, 5u);
  EXPECT_EQ(no[1].reason, "SKU 'B-208' qty 4 exceeds stock 3");
  EXPECT_EQ(no[2].reason, "empty basket");
  EXPECT_EQ(t.emitted("rejected")[1].key(), "b2");
  EXPECT_EQ(t.emitted("rejected")[0].envelope.channel, "rejections");
}

TEST(ShopProductNode, ACheckoutWithoutBasketIdFails) {
  auto t = TestNode::from_file(kShop, "product", quiet());
  ProductService service(t.node());
  t.start();
  const auto& d = t.send("in", Checkout{"", {{"A-100", 1}}, 0, 0});
  EXPECT_EQ(d.outcome, Outcome::kFailed);
  EXPECT_EQ(d.errors, std::vector<std::string>{"checkout without basket_id"});
  EXPECT_TRUE(t.emitted("out").empty());
  EXPECT_TRUE(t.emitted("rejected").empty());
}

TEST(ShopProductNode, APriceUpdateChangesTheNextResolution) {
  auto t = TestNode::from_file(kScaled, "product", quiet());
  ProductService service(t.node());
  t.start();  // would fail if `updates` had no handler
  t.send("in", Checkout{"b1", {{"A-100", 1}}, 0, 0});
  EXPECT_EQ(t.send("updates", PriceUpdate{"A-100", 2000, 1, 0}).outcome, Outcome::kHandled);
  t.send("in", Checkout{"b2", {{"A-100", 1}}, 0, 0});
  EXPECT_EQ(t.send("updates", PriceUpdate{"ZZ-1", 5, 2, 0}).errors,
            std::vector<std::string>{"price update for unknown SKU 'ZZ-1'"});
  const auto out = t.emitted_as<ResolvedBasket>("out");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].lines.at(0).unit_cents, 1899);
  EXPECT_EQ(out[1].lines.at(0).unit_cents, 2000);
}

TEST(ShopProductNode, EveryResolutionNamesItsOwnHandling) {
  // The same checkout handled twice (a re-send) gives two handlings, also across a restart
  // of the same instance, so order never joins the lines of one with the quote of the other.
  std::vector<std::string> handlings;
  for (int process = 0; process < 2; ++process) {
    auto t = TestNode::from_file(kShop, "product", quiet());
    ProductService service(t.node());
    t.start();
    t.send("in", Checkout{"b1", {{"A-100", 1}}, 0, 0});
    t.send("in", Checkout{"b1", {{"A-100", 1}}, 0, 0});
    for (const auto& r : t.emitted_as<ResolvedBasket>("out"))
      handlings.push_back(r.handling);
  }
  ASSERT_EQ(handlings.size(), 4u);
  for (std::size_t i = 0; i < handlings.size(); ++i) {
    EXPECT_EQ(handlings[i].rfind("product.0@", 0), 0u) << handlings[i];
    for (std::size_t j = 0; j < i; ++j)
      EXPECT_NE(handlings[i], handlings[j]);
  }
}

// ---- pricing ---------------------------------------------------------------------------------

TEST(ShopPricingNode, TheQuoteFollowsTheTopologysPricingParams) {
  auto t = TestNode::from_file(kShop, "pricing", quiet());
  PricingService service(t.node());
  t.start();
  const std::vector<ResolvedLine> lines = {{"A-100", "Espresso beans 1kg", 10, 1899},
                                           {"B-200", "Ceramic mug", 1, 1250}};
  EXPECT_EQ(t.send("in", ResolvedBasket{"b1", lines, 42, "product.0@x#1"}).outcome,
            Outcome::kHandled);
  ASSERT_EQ(t.emitted("out").size(), 1u);
  EXPECT_EQ(t.emitted("out")[0].key(), "b1");
  EXPECT_EQ(t.emitted("out")[0].envelope.channel, "quotes");
  const auto q = t.emitted_as<Quote>("out")[0];
  EXPECT_EQ(q.basket_id, "b1");
  EXPECT_EQ(q.client_sent_ns, 42u);
  EXPECT_EQ(q.handling, "product.0@x#1") << "order joins the quote with its lines by handling";
  // 18990 + 1250; bulk 5 % of 18990 = 950 (949.5 half-up), threshold 500; tax 20 % of 18790.
  EXPECT_EQ(q.subtotal_cents, 20240);
  EXPECT_EQ(q.discount_cents, 1450);
  EXPECT_EQ(q.tax_cents, 3758);
  EXPECT_EQ(q.total_cents, 22548);
  const PricingRules rules{10, 5, 10000, 500, 2000};  // shop.yaml's pricing params
  EXPECT_EQ(q.total_cents, price(lines, rules).total_cents);
}

TEST(ShopPricingNode, AMessageOfAnotherTypeIsRefusedNotPricedAsAnEmptyBasket) {
  auto t = TestNode::from_file(kShop, "pricing", quiet());
  PricingService service(t.node());
  t.start();
  // A Quote's payload converts to a ResolvedBasket without lines: only its type gives it away.
  const auto& d = t.send("in", Quote{"b1", 100, 0, 20, 120, 0, ""});
  // shop.yaml gives `resolved` a dead_letter channel: an undecodable message goes there at once.
  EXPECT_EQ(d.outcome, Outcome::kDeadLettered);
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_NE(d.errors[0].find("message of type 'shop.Quote' on port 'in', which takes "
                             "'shop.ResolvedBasket'"),
            std::string::npos)
      << d.errors[0];
  EXPECT_TRUE(d.acknowledged) << "never retried";
  EXPECT_EQ(t.counters("resolved").decode_errors, 1u);
  EXPECT_EQ(t.counters("resolved").handler_errors, 0u);
  EXPECT_TRUE(t.emitted("out").empty());
}

TEST(ShopPricingNode, OverriddenParamsChangeTheQuote) {
  auto t =
      TestNode::from_file(kShop, "pricing", quiet().with_override("pricing.params.tax_bp=1000"));
  PricingService service(t.node());
  t.start();
  t.send("in", ResolvedBasket{"b1", {{"A-101", "Filter coffee 500g", 1, 899}}, 0, ""});
  const auto q = t.emitted_as<Quote>("out").at(0);
  EXPECT_EQ(q.tax_cents, 90);  // 89.9 half-up
  EXPECT_EQ(q.total_cents, 989);
}

TEST(ShopPricingNode, ABasketWithoutIdFailsAndABadParamIsRefused) {
  auto t = TestNode::from_file(kShop, "pricing", quiet());
  PricingService service(t.node());
  t.start();
  const auto& d =
      t.send("in", ResolvedBasket{"", {{"A-101", "Filter coffee 500g", 1, 899}}, 0, ""});
  EXPECT_EQ(d.outcome, Outcome::kRetrying) << "shop.yaml's retry on resolved";
  EXPECT_EQ(d.errors, std::vector<std::string>{"resolved basket without basket_id"});
  EXPECT_TRUE(t.emitted("out").empty());

  auto bad = TestNode::from_file(kShop, "pricing",
                                 quiet().with_override("pricing.params.bulk_percent=101"));
  EXPECT_THROW(PricingService{bad.node()}, ConfigError);
}

// ---- order -----------------------------------------------------------------------------------

TEST_F(ShopOrderNode, RecordsBasketsQuotesAndRejectionsOnce) {
  const std::string db = (dir_ / "shop.db").string();
  auto t = TestNode::from_file(
      kShop, "order",
      TestOptions().with_override("order.params.db=" + db).with_log_level(LogLevel::kInfo));
  ::testing::internal::CaptureStderr();
  OrderService service(t.node());
  const std::string opened = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(opened.find("recording orders in " + db), std::string::npos) << opened;
  t.start();
  const ResolvedBasket b1{"b1", {{"A-100", "Espresso beans 1kg", 2, 1899}}, 9, ""};
  t.send("baskets", b1);
  t.send("quotes", Quote{"b1", 3798, 0, 760, 4558, 9, ""});
  t.send("baskets", ResolvedBasket{"b2", {{"B-200", "Ceramic mug", 1, 1250}}, 10, ""});
  t.send("rejections", Rejection{"b3", "ZZ-1", "unknown SKU 'ZZ-1'", "product.0", 11});
  // Redelivered by another producer (a product replica after a restart): new message ids, the
  // same content, so at-least-once de-duplication does not catch them; the store must.
  const SendOptions again = SendOptions().from("product.1@other");
  EXPECT_EQ(t.send("baskets", b1, again).outcome, Outcome::kHandled);
  EXPECT_EQ(t.send("quotes", Quote{"b1", 1, 1, 1, 1, 9, ""}, again).outcome, Outcome::kHandled);
  t.send("rejections", Rejection{"b3", "X", "other", "product.1", 11}, again);

  OrderReader reader(db);
  const auto o1 = reader.order("b1");
  ASSERT_TRUE(o1);
  EXPECT_EQ(o1->status, "complete");
  EXPECT_EQ(o1->lines, b1.lines);
  EXPECT_EQ(o1->quote.total_cents, 4558) << "the first quote stays";
  EXPECT_EQ(o1->client_sent_ns, 9u);
  EXPECT_TRUE(o1->persisted_ns);
  ASSERT_TRUE(reader.order("b2"));
  EXPECT_EQ(reader.order("b2")->status, "awaiting_quote");
  const auto r3 = reader.rejection("b3");
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->reason, "unknown SKU 'ZZ-1'");
  EXPECT_EQ(r3->rejected_by, "product.0");
  EXPECT_FALSE(reader.order("b3"));

  ::testing::internal::CaptureStderr();
  t.stop();
  const std::string summary = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(summary.find("1 orders completed, 1 rejections recorded"), std::string::npos)
      << summary;
}

TEST_F(ShopOrderNode, FailsToStartOnADatabaseItCannotOpen) {
  auto t = TestNode::from_file(
      kShop, "order", quiet().with_override("order.params.db=" + (dir_ / "no" / "x.db").string()));
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run_service<OrderService>(t.node(), "brook-shop-order"), 2);
  EXPECT_EQ(::testing::internal::GetCapturedStderr().rfind("brook-shop-order: ", 0), 0u);
}

}  // namespace
}  // namespace brook::shop
