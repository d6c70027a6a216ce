// Order store: joining baskets and quotes in either order, idempotence, rejections.
#include "order_logic.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace brook::shop {
namespace {

class ShopOrderStore : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("brook-order-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "shop.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::string path_;
};

ResolvedBasket basket(const std::string& id) {
  return ResolvedBasket{id, {{"A-1", "Beans", 2, 1899}, {"B-2", "Mug", 1, 1250}}, 1000, ""};
}

Quote quote(const std::string& id) {
  return Quote{id, 5048, 0, 1010, 6058, 1000, ""};
}

TEST_F(ShopOrderStore, BasketThenQuoteCompletes) {
  OrderStore store(path_, "order.0");
  EXPECT_FALSE(store.record_basket(basket("b1"), 2000));
  {
    OrderReader r(path_);
    const auto o = r.order("b1");
    ASSERT_TRUE(o);
    EXPECT_EQ(o->status, "awaiting_quote");
    EXPECT_FALSE(o->persisted_ns);
  }
  EXPECT_TRUE(store.record_quote(quote("b1"), 3000));
  OrderReader r(path_);
  const auto o = r.order("b1");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, "complete");
  EXPECT_EQ(o->quote.total_cents, 6058);
  EXPECT_EQ(o->quote.tax_cents, 1010);
  EXPECT_EQ(o->client_sent_ns, 1000u);
  EXPECT_EQ(o->persisted_ns, 3000u);
  EXPECT_EQ(o->lines, basket("b1").lines);
  EXPECT_FALSE(r.order("b2"));
}

TEST_F(ShopOrderStore, QuoteThenBasketCompletes) {
  OrderStore store(path_, "order.0");
  EXPECT_FALSE(store.record_quote(quote("b1"), 2000));
  EXPECT_TRUE(store.record_basket(basket("b1"), 2500));
  OrderReader r(path_);
  EXPECT_EQ(r.order("b1")->status, "complete");
  EXPECT_EQ(r.order("b1")->persisted_ns, 2500u);
}

TEST_F(ShopOrderStore, RedeliveriesChangeNothing) {
  OrderStore store(path_, "order.0");
  store.record_basket(basket("b1"), 1);
  EXPECT_TRUE(store.record_quote(quote("b1"), 2));
  ResolvedBasket again = basket("b1");
  again.lines.pop_back();
  EXPECT_FALSE(store.record_basket(again, 3));
  Quote other = quote("b1");
  other.total_cents = 1;
  EXPECT_FALSE(store.record_quote(other, 4));
  OrderReader r(path_);
  const auto o = r.order("b1");
  EXPECT_EQ(o->lines.size(), 2u);
  EXPECT_EQ(o->quote.total_cents, 6058);
  EXPECT_EQ(o->persisted_ns, 2u);
}

TEST_F(ShopOrderStore, RejectionsAreRecordedOnce) {
  OrderStore store(path_, "order.0");
  EXPECT_TRUE(
      store.record_rejection(Rejection{"b9", "ZZ-1", "unknown SKU 'ZZ-1'", "product.0", 5}, 6));
  EXPECT_FALSE(store.record_rejection(Rejection{"b9", "X", "other", "product.1", 5}, 7));
  OrderReader r(path_);
  const auto rej = r.rejection("b9");
  ASSERT_TRUE(rej);
  EXPECT_EQ(rej->reason, "unknown SKU 'ZZ-1'");
  EXPECT_EQ(rej->rejected_by, "product.0");
  EXPECT_FALSE(r.rejection("b1"));
}

TEST_F(ShopOrderStore, SurvivesReopenAndUsesWal) {
  {
    OrderStore store(path_, "order.0");
    store.record_basket(basket("b1"), 1);
  }
  OrderStore store(path_, "order.1");
  EXPECT_TRUE(store.record_quote(quote("b1"), 2));
  Statement mode = store.db().prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.step());
  EXPECT_EQ(mode.column_text(0), "wal");
}

TEST_F(ShopOrderStore, BadInputThrows) {
  OrderStore store(path_, "order.0");
  EXPECT_THROW(store.record_basket(ResolvedBasket{}, 1), Error);
  EXPECT_THROW(store.record_quote(Quote{}, 1), Error);
  EXPECT_THROW(store.record_rejection(Rejection{}, 1), Error);
  EXPECT_THROW(store.db().exec("SELECT * FROM nope"), SqliteError);
  EXPECT_THROW(OrderReader((dir_ / "missing.db").string()), SqliteError);
}

TEST_F(ShopOrderStore, LinesAndQuoteJoinOnlyWhenTheyComeFromTheSameHandling) {
  // A checkout resolved twice with different prices: handling "h1" then "h2".
  ResolvedBasket first = basket("b1");
  first.handling = "h1";
  ResolvedBasket second = basket("b1");
  second.handling = "h2";
  second.lines[0].unit_cents = 2099;
  Quote q1 = quote("b1");
  q1.handling = "h1";
  Quote q2 = quote("b1");
  q2.handling = "h2";
  q2.total_cents = 6298;

  {
    OrderStore store(path_, "order.0");
    EXPECT_FALSE(store.record_quote(q2, 1)) << "h2's quote alone completes nothing";
    EXPECT_FALSE(store.record_basket(first, 2)) << "h1's lines do not take h2's quote";
    EXPECT_TRUE(store.record_basket(second, 3)) << "h2's pair is complete";
    EXPECT_FALSE(store.record_quote(q1, 4)) << "the order is complete already";
    OrderReader r(path_);
    const auto o = r.order("b1");
    ASSERT_TRUE(o);
    EXPECT_EQ(o->status, "complete");
    ASSERT_EQ(o->lines.size(), 2u) << "h2's lines only";
    EXPECT_EQ(o->lines[0].unit_cents, 2099);
    EXPECT_EQ(o->quote.total_cents, 6298);
  }
  // h1's lines came first, but its quote is lost (with a killed product replica, before pricing
  // had it): h2's pair completes the order.
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  OrderStore store(path_, "order.0");
  EXPECT_FALSE(store.record_basket(first, 1));
  EXPECT_FALSE(store.record_basket(second, 2));
  EXPECT_TRUE(store.record_quote(q2, 3));
  OrderReader r(path_);
  const auto o = r.order("b1");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, "complete") << "h2's lines and quote arrived: complete with h2";
  EXPECT_EQ(o->lines[0].unit_cents, 2099);
  EXPECT_EQ(o->quote.total_cents, 6298);
}

TEST_F(ShopOrderStore, ABasketHasOneOutcomeWhicheverArrivesFirst) {
  OrderStore store(path_, "order.0");
  store.record_basket(basket("ordered"), 1);
  EXPECT_FALSE(store.record_rejection(Rejection{"ordered", "", "empty basket", "product.1", 1}, 2))
      << "an order row is there: the rejection is not recorded";
  EXPECT_TRUE(store.record_rejection(Rejection{"rejected", "Z", "unknown SKU", "product.0", 1}, 3));
  EXPECT_FALSE(store.record_basket(basket("rejected"), 4));
  EXPECT_FALSE(store.record_quote(quote("rejected"), 5));
  OrderReader r(path_);
  EXPECT_TRUE(r.order("ordered"));
  EXPECT_FALSE(r.rejection("ordered"));
  EXPECT_FALSE(r.order("rejected")) << "a rejected basket gets no order row";
  EXPECT_TRUE(r.rejection("rejected"));
}

TEST_F(ShopOrderStore, ADatabaseOfAnOlderSchemaIsNamedWithTheFix) {
  {
    Database db(path_);
    db.exec("CREATE TABLE quotes(basket_id TEXT PRIMARY KEY, subtotal_cents INTEGER)");
  }
  try {
    OrderStore store(path_, "order.0");
    FAIL() << "an old database was accepted";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path_ + ": written by an older brook-shop-order"), std::string::npos)
        << what;
    EXPECT_NE(what.find("move it aside"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace brook::shop
