// The directory's HTTP listener (docs/monitoring.md): /metrics, /health, /api/topology and the
// dashboard, served from its own threads. They read only the snapshots the directory's loop
// publishes in a SnapshotBox, never the registry, so the loop stays single-threaded.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "monitor_snapshot.hpp"
#include "topology/http_address.hpp"

namespace httplib {
class Server;
}  // namespace httplib

namespace brook {

class HttpListener {
 public:
  // Binds `address` now; throws ConfigError naming `origin` (the flag or topology key it came
  // from) when it cannot. Serves until destroyed.
  HttpListener(const detail::HttpAddress& address, std::shared_ptr<const SnapshotBox> snapshots,
               const std::string& origin);
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // http://HOST:PORT/ with the port actually bound.
  const std::string& url() const noexcept { return url_; }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::shared_ptr<const SnapshotBox> snapshots_;
  std::string url_;
  std::thread thread_;
};

}  // namespace brook
