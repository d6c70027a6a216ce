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
  recorded_by TEXT,
  handling TEXT);
CREATE TABLE IF NOT EXISTS order_lines(
  order_id TEXT NOT NULL, handling TEXT NOT NULL, line_no INTEGER NOT NULL, sku TEXT NOT NULL,
  name TEXT, qty INTEGER NOT NULL, unit_cents INTEGER NOT NULL, line_cents INTEGER NOT NULL,
  PRIMARY KEY(order_id, handling, line_no));
CREATE TABLE IF NOT EXISTS quotes(
  basket_id TEXT NOT NULL, handling TEXT NOT NULL,
  subtotal_cents INTEGER NOT NULL, discount_cents INTEGER NOT NULL, tax_cents INTEGER NOT NULL,
  total_cents INTEGER NOT NULL, received_ns INTEGER,
  PRIMARY KEY(basket_id, handling));
CREATE TABLE IF NOT EXISTS rejections(
  basket_id TEXT PRIMARY KEY, sku TEXT, reason TEXT, rejected_by TEXT,
  client_sent_ns INTEGER, recorded_ns INTEGER);
)sql";

// Completes an order with handling ?3 once that handling's lines and quote are both stored (the
// message just recorded is the second of its pair); the status condition makes every later run
// (a redelivery, another handling's pair) a no-op.
constexpr const char* kComplete = R"sql(
UPDATE orders SET status = 'complete', handling = q.handling,
  line_count = (SELECT count(*) FROM order_lines AS l WHERE l.order_id = ?1 AND l.handling = ?3),
  subtotal_cents = q.subtotal_cents, discount_cents = q.discount_cents,
  tax_cents = q.tax_cents, total_cents = q.total_cents, persisted_ns = ?2
FROM quotes AS q
WHERE q.basket_id = orders.order_id AND q.handling = ?3
  AND orders.order_id = ?1 AND orders.status = 'awaiting_quote'
  AND EXISTS (SELECT 1 FROM order_lines AS l WHERE l.order_id = ?1 AND l.handling = ?3)
)sql";

// One outcome per basket: an order row is not started for a rejected basket, nor a rejection
// recorded for one with an order row, whichever arrived first (both are idempotent inserts).
constexpr const char* kInsertOrder = R"sql(
INSERT OR IGNORE INTO orders(order_id, status, line_count, client_sent_ns, recorded_by)
SELECT ?1, 'awaiting_quote', ?2, ?3, ?4
WHERE NOT EXISTS (SELECT 1 FROM rejections WHERE basket_id = ?1)
)sql";
constexpr const char* kInsertRejection = R"sql(
INSERT OR IGNORE INTO rejections(basket_id, sku, reason, rejected_by, client_sent_ns, recorded_ns)
SELECT ?1, ?2, ?3, ?4, ?5, ?6
WHERE NOT EXISTS (SELECT 1 FROM orders WHERE order_id = ?1)
)sql";

std::int64_t ns(std::uint64_t v) {
  return static_cast<std::int64_t>(v);
}

}  // namespace

void create_schema(Database& db, const std::string& path) {
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("PRAGMA synchronous=NORMAL");
  db.exec(kSchema);
  try {
    (void)db.prepare(
        "SELECT o.handling, q.handling, l.handling FROM orders AS o, quotes AS q, "
        "order_lines AS l LIMIT 0");
  } catch (const SqliteError& e) {
    throw Error(path + ": written by an older brook-shop-order (" + e.what() +
                "); move it aside to start a new order database");
  }
}

OrderStore::OrderStore(const std::string& path, std::string recorded_by)
    : db_(path), recorded_by_(std::move(recorded_by)) {
  create_schema(db_, path);
  insert_order_ = db_.prepare(kInsertOrder);
  insert_line_ = db_.prepare(
      "INSERT OR IGNORE INTO order_lines(order_id, handling, line_no, sku, name, qty, "
      "unit_cents, line_cents) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  has_order_ = db_.prepare("SELECT 1 FROM orders WHERE order_id = ?1");
  insert_quote_ = db_.prepare(
      "INSERT OR IGNORE INTO quotes(basket_id, handling, subtotal_cents, discount_cents, "
      "tax_cents, total_cents, received_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  complete_ = db_.prepare(kComplete);
  insert_rejection_ = db_.prepare(kInsertRejection);
}

bool OrderStore::complete(const std::string& order_id, const std::string& handling,
                          std::uint64_t now_ns) {
  complete_.bind(1, order_id).bind(2, ns(now_ns)).bind(3, handling).run();
  return db_.changes() > 0;
}

bool OrderStore::record_basket(const ResolvedBasket& b, std::uint64_t now_ns) {
  if (b.basket_id.empty()) throw Error("resolved basket without basket_id");
  if (b.lines.empty()) throw Error("resolved basket '" + b.basket_id + "' without lines");
  Transaction tx(db_);
  insert_order_.bind(1, b.basket_id)
      .bind(2, static_cast<std::int64_t>(b.lines.size()))
      .bind(3, ns(b.client_sent_ns))
      .bind(4, recorded_by_)
      .run();
  {
    StatementScope scope(has_order_);
    has_order_.bind(1, b.basket_id);
    if (!has_order_.step()) {  // the basket was rejected: its one outcome is the rejection
      tx.commit();
      return false;
    }
  }
  std::int64_t line_no = 0;
  for (const ResolvedLine& l : b.lines) {
    insert_line_.bind(1, b.basket_id)
        .bind(2, b.handling)
        .bind(3, ++line_no)
        .bind(4, l.sku)
        .bind(5, l.name)
        .bind(6, std::int64_t{l.qty})
        .bind(7, l.unit_cents)
        .bind(8, checked_mul(l.unit_cents, l.qty))
        .run();
  }
  const bool done = complete(b.basket_id, b.handling, now_ns);
  tx.commit();
  return done;
}

bool OrderStore::record_quote(const Quote& q, std::uint64_t now_ns) {
  if (q.basket_id.empty()) throw Error("quote without basket_id");
  Transaction tx(db_);
  insert_quote_.bind(1, q.basket_id)
      .bind(2, q.handling)
      .bind(3, q.subtotal_cents)
      .bind(4, q.discount_cents)
      .bind(5, q.tax_cents)
      .bind(6, q.total_cents)
      .bind(7, ns(now_ns))
      .run();
  const bool done = complete(q.basket_id, q.handling, now_ns);
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
      // A complete order's lines are those of the handling that completed it.
      lines_(db_.prepare(
          "SELECT l.sku, l.name, l.qty, l.unit_cents FROM order_lines AS l JOIN orders AS o "
          "ON o.order_id = l.order_id AND o.handling = l.handling WHERE l.order_id = ?1 "
          "ORDER BY l.line_no")),
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
