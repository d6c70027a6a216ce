// Test support: what a shop run produced, counted as a fault checker counts it (brook-shop-report
// plus the baskets that got both an order and a rejection).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace brook::test {

struct ShopOutcome {
  std::size_t valid = 0;
  std::size_t orders = 0;  // complete orders
  std::size_t rejections = 0;
  std::size_t lost = 0;        // valid baskets without a complete order, invalid without rejection
  std::size_t duplicated = 0;  // baskets with an order and a rejection
  std::size_t wrong = 0;       // wrong totals or lines, valid rejected, invalid ordered
  bool ok = false;             // the report's own verdict
  int report_exit = -1;
  nlohmann::json report;
  // "valid V, orders O, rejections R, lost L, duplicated D, wrong W"
  std::string counts() const;
};

// Runs brook-shop-report on the run's database and manifest.
ShopOutcome shop_outcome(const std::filesystem::path& db, const std::filesystem::path& manifest,
                         const std::string& topology);

// count(*) of a table; 0 while the database or the table does not exist yet (a run starting).
std::uint64_t count_rows(const std::filesystem::path& db, const std::string& table);

// Rows of a read-only query on an SQLite database, as strings; throws naming the query.
std::vector<std::vector<std::string>> query(const std::filesystem::path& db,
                                            const std::string& sql);

}  // namespace brook::test
