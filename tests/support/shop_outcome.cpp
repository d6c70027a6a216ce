#include "support/shop_outcome.hpp"

#include <sqlite3.h>

#include <stdexcept>

#include "support/command.hpp"
#include "support/process.hpp"

namespace brook::test {

std::vector<std::vector<std::string>> query(const std::filesystem::path& db,
                                            const std::string& sql) {
  sqlite3* h = nullptr;
  std::vector<std::vector<std::string>> rows;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    throw std::runtime_error("cannot open " + db.string());
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    const std::string err = sqlite3_errmsg(h);
    sqlite3_close(h);
    throw std::runtime_error(sql + ": " + err);
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      const auto* text = sqlite3_column_text(st, c);
      row.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
    }
    rows.push_back(std::move(row));
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return rows;
}

std::uint64_t count_rows(const std::filesystem::path& db, const std::string& table) {
  sqlite3* h = nullptr;
  std::uint64_t n = 0;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    const std::string sql = "SELECT count(*) FROM " + table;
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      n = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0));
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return n;
}

ShopOutcome shop_outcome(const std::filesystem::path& db, const std::filesystem::path& manifest,
                         const std::string& topology) {
  const auto r = run_command({bin("brook-shop-report"), "--db", db.string(), "--manifest",
                              manifest.string(), "--topology", topology, "--json"},
                             60s);
  if (r.code != 0 && r.code != 1) throw std::runtime_error("brook-shop-report: " + r.describe());
  ShopOutcome o;
  o.report_exit = r.code;
  o.report = nlohmann::json::parse(r.out);
  const auto& j = o.report;
  auto n = [&](const char* key) { return j[key].get<std::size_t>(); };
  o.valid = n("valid");
  o.orders = n("orders_complete");
  o.rejections = n("rejections");
  o.lost = n("orders_missing") + n("orders_incomplete") + n("invalid_without_rejection");
  o.wrong = n("orders_wrong") + n("valid_rejected") + n("invalid_with_order");
  o.duplicated = std::stoull(query(db,
                                   "SELECT count(*) FROM orders AS o JOIN rejections AS r "
                                   "ON r.basket_id = o.order_id")[0][0]);
  o.ok = j["ok"].get<bool>();
  return o;
}

std::string ShopOutcome::counts() const {
  return "valid " + std::to_string(valid) + ", orders " + std::to_string(orders) + ", rejections " +
         std::to_string(rejections) + ", lost " + std::to_string(lost) + ", duplicated " +
         std::to_string(duplicated) + ", wrong " + std::to_string(wrong);
}

}  // namespace brook::test
