// brook-shop-pricing: prices each resolved basket and sends the quote (pricing_node.hpp).
#include <brook/node.hpp>

#include "pricing_node.hpp"
#include "service.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  return brook::shop::run_service<brook::shop::PricingService>(node, "brook-shop-pricing");
}
