// brook-shop-product: resolves checkouts against the catalog (product_node.hpp).
#include <brook/node.hpp>

#include "product_node.hpp"
#include "service.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  return brook::shop::run_service<brook::shop::ProductService>(node, "brook-shop-product");
}
