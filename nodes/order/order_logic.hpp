// Order: records resolved baskets, quotes and rejections in SQLite and joins each basket with its
// quote, whichever arrives first. Every write is idempotent: a redelivered message changes
// nothing. Several order processes may share one database file (WAL, busy_timeout).
//
// Schema (docs/shop.md):
//   orders(order_id PK, status 'awaiting_quote'|'complete', line_count, subtotal_cents,
//          discount_cents, tax_cents, total_cents, client_sent_ns, persisted_ns, recorded_by)
//   order_lines(order_id, line_no, sku, name, qty, unit_cents, line_cents; PK(order_id, line_no))
//   quotes(basket_id PK, subtotal_cents, discount_cents, tax_cents, total_cents, received_ns)
//   rejections(basket_id PK, sku, reason, rejected_by, client_sent_ns, recorded_ns)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shop_types.hpp"
#include "sqlite_db.hpp"

namespace brook::shop {

// Creates the tables if missing and sets WAL and synchronous=NORMAL.
void create_schema(Database& db);

class OrderStore {
 public:
  // Opens or creates the database at `path`; `recorded_by` names this instance in the rows.
  OrderStore(const std::string& path, std::string recorded_by);

  // Each returns true when that call completed the order (both lines and quote now present).
  // `now_ns` is the persisted_ns of an order completed by the call. Throws brook::Error for a
  // message without basket_id and SqliteError on database failure (nothing is half-written).
  bool record_basket(const ResolvedBasket& basket, std::uint64_t now_ns);
  bool record_quote(const Quote& quote, std::uint64_t now_ns);
  // Returns true when the rejection was new.
  bool record_rejection(const Rejection& rejection, std::uint64_t now_ns);

  Database& db() noexcept { return db_; }

 private:
  bool complete(const std::string& order_id, std::uint64_t now_ns);

  Database db_;
  std::string recorded_by_;
  Statement insert_order_;
  Statement insert_line_;
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
