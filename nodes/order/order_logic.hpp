// Order: records resolved baskets, quotes and rejections in SQLite and joins each basket with its
// quote, whichever arrives first. Every write is idempotent: a redelivered message changes
// nothing. Several order processes may share one database file (WAL, busy_timeout).
//
// A basket gets one outcome: the first of its resolved basket and its rejection to arrive wins,
// the other is ignored. A checkout resolved twice (re-sent after a crash, with prices moving in
// between) has two handlings, and the pricing of either may be lost with a killed product
// replica; the order completes with the first handling whose lines and quote are both stored,
// never with the lines of one and the quote of another.
//
// Schema (docs/shop.md):
//   orders(order_id PK, status 'awaiting_quote'|'complete', line_count, subtotal_cents,
//          discount_cents, tax_cents, total_cents, client_sent_ns, persisted_ns, recorded_by,
//          handling: the one that completed it, NULL while awaiting)
//   order_lines(order_id, handling, line_no, sku, name, qty, unit_cents, line_cents;
//               PK(order_id, handling, line_no))
//   quotes(basket_id, handling, subtotal_cents, discount_cents, tax_cents, total_cents,
//          received_ns; PK(basket_id, handling))
//   rejections(basket_id PK, sku, reason, rejected_by, client_sent_ns, recorded_ns)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shop_types.hpp"
#include "sqlite_db.hpp"

namespace brook::shop {

// Creates the tables if missing and sets WAL and synchronous=NORMAL. Throws brook::Error naming
// `path` when the file has an older schema.
void create_schema(Database& db, const std::string& path);

class OrderStore {
 public:
  // Opens or creates the database at `path`; `recorded_by` names this instance in the rows.
  OrderStore(const std::string& path, std::string recorded_by);

  // Each returns true when that call completed the order (lines and quote of one handling now
  // present). `now_ns` is the persisted_ns of an order completed by the call. Throws
  // brook::Error for a message without basket_id (a basket also without lines) and SqliteError
  // on database failure (nothing is half-written).
  bool record_basket(const ResolvedBasket& basket, std::uint64_t now_ns);
  bool record_quote(const Quote& quote, std::uint64_t now_ns);
  // Returns true when the rejection was recorded: new, and the basket has no order.
  bool record_rejection(const Rejection& rejection, std::uint64_t now_ns);

  Database& db() noexcept { return db_; }

 private:
  bool complete(const std::string& order_id, const std::string& handling, std::uint64_t now_ns);

  Database db_;
  std::string recorded_by_;
  Statement insert_order_;
  Statement insert_line_;
  Statement has_order_;
  Statement insert_quote_;
  Statement complete_;
  Statement insert_rejection_;
};

// What the database holds about one order, for the report and tests.
struct StoredOrder {
  std::string order_id;
  std::string status;
  std::vector<ResolvedLine> lines;  // by line_no
  Quote quote;                      // from the orders row; zeros while awaiting the quote
  std::uint64_t client_sent_ns = 0;
  std::optional<std::uint64_t> persisted_ns;
};

class OrderReader {
 public:
  explicit OrderReader(const std::string& path);
  std::optional<StoredOrder> order(const std::string& order_id);
  std::optional<Rejection> rejection(const std::string& basket_id);

 private:
  Database db_;
  Statement order_;
  Statement lines_;
  Statement rejection_;
};

}  // namespace brook::shop
