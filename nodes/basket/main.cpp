// brook-shop-basket: builds baskets from cart events and emits a checkout per basket
// (basket_node.hpp).
#include <brook/node.hpp>

#include "basket_node.hpp"
#include "service.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  return brook::shop::run_service<brook::shop::BasketService>(node, "brook-shop-basket");
}
