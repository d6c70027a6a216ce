#include "order_logic.hpp"

#include "money.hpp"

namespace brook::shop {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS orders(
  order_id TEXT PRIMARY KEY,
  status TEXT NOT NULL CHECK (status IN ('awaiting_quote', 'complete')),
  line_count INTEGER NOT NULL,
  subtotal_cents INTEGER, discount_cents INTEGER, tax_cents INTEGER, total_cents INTEGER,
  client_sent_ns INTEGER,
  persisted_ns INTEGER,
  recorded_by TEXT);
CREATE TABLE IF NOT EXISTS order_lines(
  order_id TEXT NOT NULL, line_no INTEGER NOT NULL, sku TEXT NOT NULL, name TEXT,
  qty INTEGER NOT NULL, unit_cents INTEGER NOT NULL, line_cents INTEGER NOT NULL,
  PRIMARY KEY(order_id, line_no));
CREATE TABLE IF NOT EXISTS quotes(
  basket_id TEXT PRIMARY KEY,
  subtotal_cents INTEGER NOT NULL, discount_cents INTEGER NOT NULL, tax_cents INTEGER NOT NULL,
  total_cents INTEGER NOT NULL, received_ns INTEGER);
CREATE TABLE IF NOT EXISTS rejections(
  basket_id TEXT PRIMARY KEY, sku TEXT, reason TEXT, rejected_by TEXT,
  client_sent_ns INTEGER, recorded_ns INTEGER);
)sql";

// Completes an order whose lines and quote are both stored; the status condition makes a second
// run (a redelivery, or the other message of the pair) a no-op.
constexpr const char* kComplete = R"sql(
UPDATE orders SET status = 'complete',
  subtotal_cents = q.subtotal_cents, discount_cents = q.discount_cents,
  tax_cents = q.tax_cents, total_cents = q.total_cents, persisted_ns = ?2
FROM quotes AS q
WHERE q.basket_id = orders.order_id AND orders.order_id = ?1 AND orders.status = 'awaiting_quote'
)sql";

std::int64_t ns(std::uint64_t v) {
  return static_cast<std::int64_t>(v);
}

}  // namespace

void create_schema(Database& db) {
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("PRAGMA synchronous=NORMAL");
  db.exec(kSchema);
}

OrderStore::OrderStore(const std::string& path, std::string recorded_by)
    : db_(path), recorded_by_(std::move(recorded_by)) {
  create_schema(db_);
  insert_order_ = db_.prepare(
      "INSERT OR IGNORE INTO orders(order_id, status, line_count, client_sent_ns, recorded_by) "
      "VALUES (?1, 'awaiting_quote', ?2, ?3, ?4)");
  insert_line_ = db_.prepare(
      "INSERT OR IGNORE INTO order_lines(order_id, line_no, sku, name, qty, unit_cents, "
      "line_cents) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  insert_quote_ = db_.prepare(
      "INSERT OR IGNORE INTO quotes(basket_id, subtotal_cents, discount_cents, tax_cents, "
      "total_cents, received_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  complete_ = db_.prepare(kComplete);
  insert_rejection_ = db_.prepare(
      "INSERT OR IGNORE INTO rejections(basket_id, sku, reason, rejected_by, client_sent_ns, "
      "recorded_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
}

bool OrderStore::complete(const std::string& order_id, std::uint64_t now_ns) {
  complete_.bind(1, order_id).bind(2, ns(now_ns)).run();
  return db_.changes() > 0;
}

bool OrderStore::record_basket(const ResolvedBasket& b, std::uint64_t now_ns) {
  if (b.basket_id.empty()) throw Error("resolved basket without basket_id");
  Transaction tx(db_);
  insert_order_.bind(1, b.basket_id)
      .bind(2, static_cast<std::int64_t>(b.lines.size()))
      .bind(3, ns(b.client_sent_ns))
      .bind(4, recorded_by_)
      .run();
  if (db_.changes() > 0) {
    std::int64_t line_no = 0;
    for (const ResolvedLine& l : b.lines) {
      insert_line_.bind(1, b.basket_id)
          .bind(2, ++line_no)
          .bind(3, l.sku)
          .bind(4, l.name)
          .bind(5, std::int64_t{l.qty})
          .bind(6, l.unit_cents)
          .bind(7, checked_mul(l.unit_cents, l.qty))
          .run();
    }
  }
  const bool done = complete(b.basket_id, now_ns);
  tx.commit();
  return done;
}

bool OrderStore::record_quote(const Quote& q, std::uint64_t now_ns) {
  if (q.basket_id.empty()) throw Error("quote without basket_id");
  Transaction tx(db_);
  insert_quote_.bind(1, q.basket_id)
      .bind(2, q.subtotal_cents)
      .bind(3, q.discount_cents)
      .bind(4, q.tax_cents)
      .bind(5, q.total_cents)
      .bind(6, ns(now_ns))
      .run();
  const bool done = complete(q.basket_id, now_ns);
  tx.commit();
  return done;
}

bool OrderStore::record_rejection(const Rejection& r, std::uint64_t now_ns) {
  if (r.basket_id.empty()) throw Error("rejection without basket_id");
  insert_rejection_.bind(1, r.basket_id)
      .bind(2, r.sku)
      .bind(3, r.reason)
      .bind(4, r.rejected_by)
      .bind(5, ns(r.client_sent_ns))
      .bind(6, ns(now_ns))
      .run();
  return db_.changes() > 0;
}

OrderReader::OrderReader(const std::string& path)
    : db_(path, Database::Mode::kReadOnly),
      order_(db_.prepare(
          "SELECT status, subtotal_cents, discount_cents, tax_cents, total_cents, client_sent_ns, "
          "persisted_ns FROM orders WHERE order_id = ?1")),
      lines_(db_.prepare("SELECT sku, name, qty, unit_cents FROM order_lines WHERE order_id = ?1 "
                         "ORDER BY line_no")),
      rejection_(db_.prepare(
          "SELECT sku, reason, rejected_by, client_sent_ns FROM rejections WHERE basket_id = ?1")) {
}

std::optional<StoredOrder> OrderReader::order(const std::string& order_id) {
  StoredOrder o;
  {
    StatementScope scope(order_);
    order_.bind(1, order_id);
    if (!order_.step()) return std::nullopt;
    o.order_id = order_id;
    o.status = order_.column_text(0);
    o.quote.basket_id = order_id;
    o.quote.subtotal_cents = order_.column_opt_int(1).value_or(0);
    o.quote.discount_cents = order_.column_opt_int(2).value_or(0);
    o.quote.tax_cents = order_.column_opt_int(3).value_or(0);
    o.quote.total_cents = order_.column_opt_int(4).value_or(0);
    o.client_sent_ns = static_cast<std::uint64_t>(order_.column_opt_int(5).value_or(0));
    o.quote.client_sent_ns = o.client_sent_ns;
    if (auto p = order_.column_opt_int(6)) o.persisted_ns = static_cast<std::uint64_t>(*p);
  }
  StatementScope scope(lines_);
  lines_.bind(1, order_id);
  while (lines_.step()) {
    o.lines.push_back(ResolvedLine{lines_.column_text(0), lines_.column_text(1),
                                   static_cast<std::int32_t>(lines_.column_int(2)),
                                   lines_.column_int(3)});
  }
  return o;
}

std::optional<Rejection> OrderReader::rejection(const std::string& basket_id) {
  StatementScope scope(rejection_);
  rejection_.bind(1, basket_id);
  if (!rejection_.step()) return std::nullopt;
  Rejection r;
  r.basket_id = basket_id;
  r.sku = rejection_.column_text(0);
  r.reason = rejection_.column_text(1);
  r.rejected_by = rejection_.column_text(2);
  r.client_sent_ns = static_cast<std::uint64_t>(rejection_.column_opt_int(3).value_or(0));
  return r;
}

}  // namespace brook::shop
