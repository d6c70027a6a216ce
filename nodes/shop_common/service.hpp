// What every shop service's main() does: build the service on the node, then run the node. The
// service classes (nodes/<svc>/<svc>_node.hpp) hold the wiring so that tests/unit/
// shop_nodes_test.cpp can build them on a brook::testing::TestNode instead.
#pragma once

#include <brook/error.hpp>
#include <brook/node.hpp>
#include <iostream>
#include <optional>
#include <string_view>

namespace brook::shop {

// Constructs S on `node` (S(brook::Node&)) and runs the node. A brook::Error from the constructor
// (bad params, an unreadable catalog or database) is printed as "<program>: <what>" and exits 2,
// like a usage error: the node never started, so a restart would fail the same way.
template <class S>
int run_service(brook::Node& node, std::string_view program) {
  std::optional<S> service;  // S is neither copied nor moved: its handlers capture `this`
  try {
    service.emplace(node);
  } catch (const brook::Error& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 2;
  }
  return node.run();
}

}  // namespace brook::shop
