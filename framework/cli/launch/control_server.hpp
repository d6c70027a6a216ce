// The control socket of a launch (run_dir.hpp): a Unix stream socket served by the launcher's own
// loop, so a slow or silent client never blocks supervision. A client sends one request, a JSON
// object on one line ({"op":"status"}); the launcher answers with JSON lines (progress, then a
// result) and closes the connection when the operation is over. Nothing reads or writes with
// blocking calls; a client that stops reading is dropped once 1 MiB waits for it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/reactor.hpp"

namespace brook::launch {

class ControlServer {
 public:
  using ConnId = std::uint64_t;
  // Called once per connection with its request; a request that is not a JSON object is answered
  // {"error": ...} without calling it.
  using Handler = std::function<void(ConnId, const nlohmann::json&)>;

  // Binds `path` (removing a socket file left there). Throws brook::Error naming the path.
  ControlServer(detail::Reactor& reactor, std::filesystem::path path, Handler handler);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // One line to the client; nothing when it went away.
  void send(ConnId id, const nlohmann::json& line);
  // Closes the connection once what was sent left.
  void finish(ConnId id);
  bool connected(ConnId id) const { return conns_.count(id) > 0; }

 private:
  struct Conn {
    int fd = -1;
    std::string in;
    std::string out;
    bool handled = false;
    bool finishing = false;
    detail::Reactor::ReaderId reader = 0;
    detail::Reactor::ReaderId writer = 0;
  };
  void accept_all();
  void read_from(ConnId id);
  void flush(ConnId id);
  void drop(ConnId id);

  detail::Reactor& reactor_;
  std::filesystem::path path_;
  Handler handler_;
  int fd_ = -1;
  detail::Reactor::ReaderId listener_ = 0;
  std::map<ConnId, Conn> conns_;
  ConnId next_ = 1;
};

// The client side, for the tools: sends `request` to the launch whose socket is `path` and calls
// `on_line` for every line of the answer until the launcher closes the connection. Throws
// brook::Error when nothing listens there.
void control_request(const std::filesystem::path& path, const nlohmann::json& request,
                     const std::function<void(const nlohmann::json&)>& on_line);

}  // namespace brook::launch
