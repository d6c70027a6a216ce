// The client service on a node (a job): simulates shoppers. Sends `baskets` baskets of cart
// events at `rate` baskets per second (0: as fast as emit allows), never waiting for replies,
// writes the manifest, then stops the node (client_logic.hpp).
//   outputs {out: cart}
//   params: baskets, rate, seed, invalid_ratio, catalog, run, manifest (docs/shop.md); the
//   options() of the same names beat the params
#pragma once

#include <brook/log.hpp>
#include <brook/node.hpp>
#include <brook/program_options.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <optional>

#include "catalog.hpp"
#include "client_logic.hpp"

namespace brook::shop {

class ClientService {
 public:
  // The program's own options, for brook::Node(argc, argv, options()).
  static brook::ProgramOptions options();

  // Reads the settings (the node must be built with options()), loads the catalog, opens the
  // manifest, and starts sending once the node is ready.
  // Throws brook::Error for a bad setting or catalog, or a manifest it cannot write.
  explicit ClientService(brook::Node& node);
  ClientService(const ClientService&) = delete;
  ClientService& operator=(const ClientService&) = delete;

 private:
  void tick();
  void finish();

  brook::Node& node_;
  brook::Output<CartEvent> out_;
  std::uint64_t total_ = 0;
  double rate_ = 0;
  Catalog catalog_;
  std::optional<BasketPlanner> planner_;  // refers to catalog_
  std::ofstream manifest_;

  std::uint64_t next_ = 0;  // baskets fully sent
  std::uint64_t valid_ = 0;
  std::uint64_t events_ = 0;
  std::optional<PlannedBasket> current_;
  std::size_t event_index_ = 0;  // next event of current_ to emit: survives a backpressure retry
  std::chrono::steady_clock::time_point start_;
  brook::TimerId timer_ = 0;
  bool finished_ = false;
  brook::LogRateLimiter full_log_;
};

}  // namespace brook::shop
