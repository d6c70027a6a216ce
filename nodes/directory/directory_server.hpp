// The directory's sockets and event loop (a detail::Reactor): a ROUTER answering requests and a
// PUB announcing changes, both driven by DirectoryRegistry.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <zmq.hpp>

#include "directory_logic.hpp"
#include "security/security.hpp"
#include "security/zap_handler.hpp"
#include "util/lifecycle.hpp"

namespace brook {

struct DirectoryServerOptions {
  std::string bind = "tcp://127.0.0.1:5670";  // ROUTER; port * picks an ephemeral one
  std::string pub_bind;                       // PUB; empty: same host as `bind`, ephemeral port
  DirectoryConfig config;
  std::chrono::milliseconds tick{500};  // how often watchers hear the current seq
  Security security;  // CURVE: only allowlisted keys connect; nodes register only as themselves
  // CURVE and a topology: registrations only for its nodes, within their replicas.
  DeclaredNodes declared;
  // The HTTP listener's: when set, the loop publishes a MonitorSnapshot into it every tick.
  std::shared_ptr<SnapshotBox> snapshots;
  MonitoredTopology topology;  // what the snapshots say of the declared topology
};

struct DirectoryServerStats {
  std::uint64_t requests = 0;
  std::uint64_t bad_requests = 0;
  std::uint64_t denied = 0;   // requests refused by authorize()
  std::uint64_t refused = 0;  // connections refused by the ZAP handler
  std::uint64_t updates_published = 0;
};

class DirectoryServer {
 public:
  // Binds both sockets; throws ZmqError if an endpoint cannot be bound.
  explicit DirectoryServer(DirectoryServerOptions options);
  DirectoryServer(const DirectoryServer&) = delete;
  DirectoryServer& operator=(const DirectoryServer&) = delete;

  const std::string& endpoint() const noexcept { return endpoint_; }
  const std::string& pub_endpoint() const noexcept { return pub_endpoint_; }
  const std::string& epoch() const noexcept { return epoch_; }

  // Serves until `stop` fires. Blocks the calling thread.
  void run(StopSignal& stop);
  const DirectoryServerStats& stats() const noexcept { return stats_; }

 private:
  // Lease expiry as the loop's wake-up source.
  DirectoryRegistry::Clock::time_point lease_wakeup() const;
  void expire_leases(DirectoryRegistry::Clock::time_point now);
  void serve_requests();
  void handle(zmq::message_t& identity, zmq::message_t& body, bool extra_frames);
  void reply(zmq::message_t& identity, const DirectoryReply& r);
  void publish(std::vector<DirectoryUpdate>& changes);
  // Sends a change (topic, then body) on the PUB and pushes it to each connection in `routes`.
  void broadcast(std::string_view topic, std::string_view body,
                 const std::vector<std::string_view>& routes);
  void publish_tick();
  void publish_snapshot(DirectoryRegistry::Clock::time_point now);
  void handshake_failures();

  DirectoryServerOptions options_;
  std::string epoch_;
  zmq::context_t context_{1};
  std::unique_ptr<ZapHandler> zap_;  // CURVE only; declared after context_, so closed before it
  zmq::socket_t router_;
  std::unique_ptr<zmq::socket_t> monitor_;  // CURVE only: the ROUTER's failed handshakes
  zmq::socket_t pub_;
  std::string endpoint_;
  std::string pub_endpoint_;
  DirectoryRegistry registry_;
  DirectoryServerStats stats_;
  std::vector<DirectoryUpdate> changes_;
  std::vector<std::string_view> routes_;  // push(): kept between calls
  // When expire_leases() last ran: the loop runs it every turn and sleeps at most a tick between
  // turns, so a longer gap is a stall of the directory itself.
  DirectoryRegistry::Clock::time_point last_turn_{};
};

}  // namespace brook
