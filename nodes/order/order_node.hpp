// The order service on a node: records orders, their quotes and rejections in SQLite
// (order_logic.hpp).
//   inputs {baskets: resolved, quotes: quotes, rejections: rejections}
//   params: db (path relative to the current directory, default shop.db)
#pragma once

#include <brook/node.hpp>
#include <cstdint>
#include <string>

#include "order_logic.hpp"

namespace brook::shop {

class OrderService {
 public:
  // Opens (or creates) the database and registers the handlers and the on_stop summary; throws
  // brook::Error (SqliteError) when the database cannot be opened.
  explicit OrderService(brook::Node& node);
  OrderService(const OrderService&) = delete;
  OrderService& operator=(const OrderService&) = delete;

 private:
  brook::Node& node_;
  std::string db_path_;
  OrderStore store_;
  std::uint64_t completed_ = 0;
  std::uint64_t rejections_ = 0;
};

}  // namespace brook::shop
