// A placeholder until the dashboard's page lands: one line pointing at what there is.
#include "dashboard_routes.hpp"

#include <httplib.h>

namespace brook {

void register_dashboard_routes(httplib::Server& server) {
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(
        "<!doctype html><title>brook</title><p>brook directory: <a href=\"/metrics\">metrics</a>, "
        "<a href=\"/api/topology\">topology</a>, <a href=\"/health\">health</a></p>\n",
        "text/html; charset=utf-8");
  });
}

}  // namespace brook
