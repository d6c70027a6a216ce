// brook-shop-catalog: broadcasts price updates to every product instance (catalog_node.hpp).
#include <brook/node.hpp>

#include "catalog_node.hpp"
#include "service.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  return brook::shop::run_service<brook::shop::CatalogService>(node, "brook-shop-catalog");
}
