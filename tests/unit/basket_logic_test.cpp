// Basket: merging adds, removes, checkout, bad events, eviction; the book lives in a node's
// state (brook::testing keeps it in memory, in the same store a running node has on disk).
#include "basket_logic.hpp"

#include <gtest/gtest.h>

#include "support/shop_nodes.hpp"

namespace brook::shop {
namespace {

using test::kShop;
using test::quiet;
using test::TestNode;

// A basket node's state, with a book over it.
struct Book {
  explicit Book(std::size_t max)
      : node(TestNode::from_file(kShop, "basket", quiet())), book(node.node(), max) {}
  TestNode node;
  BasketBook book;
  BasketBook* operator->() { return &book; }
};

CartEvent ev(const std::string& id, const std::string& op, const std::string& sku = "",
             std::int32_t qty = 0, std::uint64_t sent = 0) {
  return CartEvent{id, op, sku, qty, sent};
}

TEST(ShopBasket, AddsMergeInFirstAddOrderAndCheckoutEmitsThem) {
  Book book(10);
  EXPECT_FALSE(book->apply(ev("b1", "add", "B", 1), 0));
  EXPECT_FALSE(book->apply(ev("b1", "add", "A", 2), 0));
  EXPECT_FALSE(book->apply(ev("b1", "add", "B", 3), 0));
  const auto c = book->apply(ev("b1", "checkout", "", 0, 77), 99);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->basket_id, "b1");
  EXPECT_EQ(c->lines, (std::vector<Line>{{"B", 4}, {"A", 2}}));
  EXPECT_EQ(c->client_sent_ns, 77u);
  EXPECT_EQ(c->checkout_ns, 99u);
  EXPECT_EQ(book->open(), 0u);
}

TEST(ShopBasket, RemoveDropsTheLineOrLowersItsQty) {
  Book book(10);
  book->apply(ev("b", "add", "A", 5), 0);
  book->apply(ev("b", "add", "B", 1), 0);
  book->apply(ev("b", "add", "C", 2), 0);
  book->apply(ev("b", "remove", "A", 2), 0);  // 5 -> 3
  book->apply(ev("b", "remove", "B", 0), 0);  // whole line
  book->apply(ev("b", "remove", "C", 9), 0);  // more than held: whole line
  book->apply(ev("b", "remove", "Z", 1), 0);  // not in basket: ignored
  book->apply(ev("nobody", "remove", "A", 1), 0);
  EXPECT_EQ(book->open(), 1u) << "a remove must not open a basket";
  EXPECT_EQ(book->apply(ev("b", "checkout"), 0)->lines, (std::vector<Line>{{"A", 3}}));
}

TEST(ShopBasket, CheckoutOfUnknownBasketHasNoLines) {
  Book book(10);
  const auto c = book->apply(ev("ghost", "checkout"), 0);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->lines.empty());
  book->apply(ev("b", "add", "A", 1), 0);
  book->apply(ev("b", "checkout"), 0);
  EXPECT_TRUE(book->apply(ev("b", "checkout"), 0)->lines.empty()) << "checkout forgets the basket";
}

TEST(ShopBasket, BadEventsThrowAndChangeNothing) {
  Book book(10);
  EXPECT_THROW(book->apply(ev("b", "explode", "A", 1), 0), Error);
  EXPECT_THROW(book->apply(ev("", "add", "A", 1), 0), Error);
  EXPECT_THROW(book->apply(ev("b", "add", "", 1), 0), Error);
  EXPECT_THROW(book->apply(ev("b", "add", "A", 0), 0), Error);
  EXPECT_THROW(book->apply(ev("b", "add", "A", -2), 0), Error);
  EXPECT_EQ(book->open(), 0u);
  book->apply(ev("b", "add", "A", 2'000'000'000), 0);
  EXPECT_THROW(book->apply(ev("b", "add", "A", 2'000'000'000), 0), Error);
}

TEST(ShopBasket, EvictsTheOldestOpenBasket) {
  Book book(2);
  book->apply(ev("b1", "add", "A", 1), 0);
  book->apply(ev("b2", "add", "A", 1), 0);
  book->apply(ev("b1", "add", "B", 1), 0);  // touching does not make it younger
  book->apply(ev("b3", "add", "A", 1), 0);
  EXPECT_EQ(book->open(), 2u);
  EXPECT_EQ(book->evicted(), 1u);
  EXPECT_EQ(book->take_evicted(), std::vector<std::string>{"b1"});
  EXPECT_TRUE(book->take_evicted().empty());
  EXPECT_TRUE(book->apply(ev("b1", "checkout"), 0)->lines.empty());
  EXPECT_EQ(book->apply(ev("b2", "checkout"), 0)->lines.size(), 1u);
}

TEST(ShopBasket, EvictionSkipsBasketsAlreadyCheckedOut) {
  Book book(2);
  book->apply(ev("b1", "add", "A", 1), 0);
  book->apply(ev("b2", "add", "A", 1), 0);
  book->apply(ev("b1", "checkout"), 0);
  book->apply(ev("b3", "add", "A", 1), 0);  // room: b1 left
  EXPECT_EQ(book->evicted(), 0u);
  book->apply(ev("b4", "add", "A", 1), 0);  // evicts b2, the oldest still open
  EXPECT_EQ(book->take_evicted(), std::vector<std::string>{"b2"});
  EXPECT_EQ(book->open(), 2u);
  EXPECT_EQ(book->apply(ev("b3", "checkout"), 0)->lines.size(), 1u);
  EXPECT_EQ(book->apply(ev("b4", "checkout"), 0)->lines.size(), 1u);
  EXPECT_EQ(book->open(), 0u);
}

TEST(ShopBasket, TheBasketsAreTheNodesStateNotTheBooks) {
  // What a restarted basket node sees: a new book over the same state.
  TestNode node = TestNode::from_file(kShop, "basket", quiet());
  {
    BasketBook first(node.node(), 2);
    first.apply(ev("b1", "add", "A", 1), 0);
    first.apply(ev("b2", "add", "B", 2), 0);
  }
  BasketBook second(node.node(), 2);
  EXPECT_EQ(second.open(), 2u);
  second.apply(ev("b3", "add", "C", 1), 0);  // the age order came along: b1 is evicted
  EXPECT_EQ(second.take_evicted(), std::vector<std::string>{"b1"});
  EXPECT_EQ(second.apply(ev("b2", "checkout"), 0)->lines, (std::vector<Line>{{"B", 2}}));
}

}  // namespace
}  // namespace brook::shop
