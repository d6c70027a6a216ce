// brook-shop-order: records orders, their quotes and rejections in SQLite (order_node.hpp).
#include <brook/node.hpp>

#include "order_node.hpp"
#include "service.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  return brook::shop::run_service<brook::shop::OrderService>(node, "brook-shop-order");
}
