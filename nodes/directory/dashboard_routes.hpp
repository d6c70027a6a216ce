// The dashboard the directory's HTTP listener serves at / (docs/monitoring.md, "Dashboard"):
// its page and assets, embedded in the binary. Everything it shows comes from /api/topology.
#pragma once

namespace httplib {
class Server;
}  // namespace httplib

namespace brook {

// Adds GET / and the dashboard's assets to `server`.
void register_dashboard_routes(httplib::Server& server);

}  // namespace brook
