#include "http_listener.hpp"

#include <httplib.h>
#include <sys/socket.h>

#include <brook/error.hpp>
#include <brook/log.hpp>
#include <cerrno>
#include <cstring>

#include "dashboard_routes.hpp"
#include "metrics_text.hpp"
#include "topology_json.hpp"

namespace brook {

namespace {

// Scrapers and a browser or two: a small pool keeps the directory's footprint small.
constexpr std::size_t kHttpThreads = 2;

}  // namespace

HttpListener::HttpListener(const detail::HttpAddress& address,
                           std::shared_ptr<const SnapshotBox> snapshots, const std::string& origin)
    : server_(std::make_unique<httplib::Server>()), snapshots_(std::move(snapshots)) {
  server_->new_task_queue = [] { return new httplib::ThreadPool(kHttpThreads); };
  server_->set_keep_alive_max_count(100);
  // httplib's default adds SO_REUSEPORT, with which a second directory on the same port would
  // bind too and take every other scrape. SO_REUSEADDR alone lets a restart rebind at once.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    (void)::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  const SnapshotBox* box = snapshots_.get();
  server_->Get("/metrics", [box](const httplib::Request&, httplib::Response& res) {
    res.set_content(render_metrics(*box->latest()), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/health", [box](const httplib::Request&, httplib::Response& res) {
    res.set_content(render_health_json(*box->latest()), "application/json");
  });
  server_->Get("/api/topology", [box](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(render_topology_json(*box->latest()), "application/json");
  });
  register_dashboard_routes(*server_);

  errno = 0;
  int port = address.port;
  bool bound = false;
  if (address.port == 0) {
    port = server_->bind_to_any_port(address.host);
    bound = port > 0;
  } else {
    bound = server_->bind_to_port(address.host, address.port);
  }
  if (!bound) {
    const int err = errno;
    throw ConfigError("cannot serve HTTP on " + detail::format_http_address(address) + " (" +
                      origin + ")" + (err != 0 ? std::string(": ") + std::strerror(err) : "") +
                      "; is another process using that port? pick another one, or port 0 for "
                      "any free one");
  }
  const detail::HttpAddress bound_address{address.host, static_cast<std::uint16_t>(port)};
  url_ = "http://" + detail::format_http_address(bound_address) + "/";
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

HttpListener::~HttpListener() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace brook
