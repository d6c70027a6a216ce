// brook-shop-client (a job): simulates shoppers, then exits (client_node.hpp).
#include <brook/node.hpp>

#include "client_node.hpp"
#include "service.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv, brook::shop::ClientService::options());
  return brook::shop::run_service<brook::shop::ClientService>(node, "brook-shop-client");
}
