#include "http_listener.hpp"

#include <httplib.h>
#include <sys/socket.h>

#include <brook/error.hpp>
#include <brook/log.hpp>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "dashboard_routes.hpp"
#include "metrics_text.hpp"
#include "topology_json.hpp"

namespace brook {

namespace {

// Scrapers and a browser or two: a small pool keeps the directory's footprint small.
constexpr std::size_t kHttpThreads = 2;

// The last rendering of one snapshot: scrapers and dashboards polling faster than the loop
// publishes (every tick) get the same text without rendering it again.
class RenderCache {
 public:
  using Render = std::string (*)(const MonitorSnapshot&);
  explicit RenderCache(Render render) : render_(render) {}

  std::shared_ptr<const std::string> get(const std::shared_ptr<const MonitorSnapshot>& s) {
    {
      const std::lock_guard lock(mutex_);
      if (for_ == s) return text_;
    }
    auto text = std::make_shared<const std::string>(render_(*s));  // outside the lock
    const std::lock_guard lock(mutex_);
    for_ = s;
    text_ = text;
    return text;
  }

 private:
  Render render_;
  std::mutex mutex_;
  std::shared_ptr<const MonitorSnapshot> for_;
  std::shared_ptr<const std::string> text_;
};

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
  auto metrics = std::make_shared<RenderCache>(&render_metrics);
  auto topology = std::make_shared<RenderCache>(&render_topology_json);
  server_->Get("/metrics", [box, metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(*metrics->get(box->latest()), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/health", [box](const httplib::Request&, httplib::Response& res) {
    res.set_content(render_health_json(*box->latest()), "application/json");
  });
  server_->Get("/api/topology", [box, topology](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(*topology->get(box->latest()), "application/json");
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
