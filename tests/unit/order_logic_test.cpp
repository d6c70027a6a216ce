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
  return ResolvedBasket{id, {{"A-1", "Beans", 2, 1899}, {"B-2", "Mug", 1, 1250}}, 1000};
}

Quote quote(const std::string& id) {
  return Quote{id, 5048, 0, 1010, 6058, 1000};
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

}  // namespace
}  // namespace brook::shop
