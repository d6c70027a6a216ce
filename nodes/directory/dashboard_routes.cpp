// GET / and /assets/...: the dashboard's embedded files, as dashboard_response() decides.
#include "dashboard_routes.hpp"

#include <httplib.h>

#include <string>

#include "dashboard_assets.hpp"

namespace brook {

void register_dashboard_routes(httplib::Server& server) {
  const auto serve = [](const httplib::Request& req, httplib::Response& res) {
    const auto r = detail::dashboard_response(req.path, req.get_header_value("If-None-Match"));
    res.status = r.status;
    for (const auto& [name, value] : r.headers)
      res.set_header(std::string(name), std::string(value));
    if (!r.etag.empty()) res.set_header("ETag", r.etag);
    // A 304 has no body: its headers say the browser's copy is still good.
    if (r.status != 304) res.set_content(r.body.data(), r.body.size(), r.content_type.c_str());
  };
  server.Get("/", serve);
  server.Get("/index.html", serve);
  server.Get(R"(/assets/.*)", serve);
}

}  // namespace brook
