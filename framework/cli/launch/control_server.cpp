#include "launch/control_server.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <brook/error.hpp>
#include <cerrno>
#include <cstring>
#include <exception>
#include <utility>

namespace brook::launch {

namespace {

constexpr std::size_t kMaxRequest = 64 * 1024;
constexpr std::size_t kMaxQueued = 1024 * 1024;

sockaddr_un address_of(const std::filesystem::path& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  const std::string s = path.string();
  if (s.size() >= sizeof a.sun_path) {
    throw Error("control socket path " + s + " is longer than " +
                std::to_string(sizeof a.sun_path - 1) +
                " bytes, the limit of a Unix socket: pass a shorter --run-dir");
  }
  std::memcpy(a.sun_path, s.c_str(), s.size() + 1);
  return a;
}

}  // namespace

ControlServer::ControlServer(detail::Reactor& reactor, std::filesystem::path path, Handler handler)
    : reactor_(reactor), path_(std::move(path)), handler_(std::move(handler)) {
  const sockaddr_un a = address_of(path_);
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw Error(std::string("control socket: ") + std::strerror(errno));
  ::unlink(path_.c_str());
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0) {
    const int err = errno;
    ::close(fd_);
    throw Error("cannot listen on " + path_.string() + ": " + std::strerror(err));
  }
  listener_ = reactor_.add_fd(fd_, ZMQ_POLLIN, [this](short) { accept_all(); });
}

ControlServer::~ControlServer() {
  while (!conns_.empty())
    drop(conns_.begin()->first);
  reactor_.remove(listener_);
  ::close(fd_);
  ::unlink(path_.c_str());
}

void ControlServer::accept_all() {
  for (;;) {
    const int c = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) return;  // EAGAIN, or a client that went before we took it
    const ConnId id = next_++;
    Conn& conn = conns_[id];
    conn.fd = c;
    conn.reader = reactor_.add_fd(c, ZMQ_POLLIN, [this, id](short) { read_from(id); });
  }
}

void ControlServer::read_from(ConnId id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  char buf[4096];
  const ssize_t n = ::read(it->second.fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    drop(id);  // the client went: what it asked for goes on, its answer has nowhere to go
    return;
  }
  Conn& c = it->second;
  if (c.handled) return;  // one request per connection: the rest is ignored
  c.in.append(buf, static_cast<std::size_t>(n));
  const auto nl = c.in.find('\n');
  if (nl == std::string::npos) {
    if (c.in.size() > kMaxRequest) drop(id);
    return;
  }
  c.handled = true;
  const auto request = nlohmann::json::parse(c.in.substr(0, nl), nullptr, false);
  c.in.clear();
  if (!request.is_object()) {
    send(id, {{"error", "a request is one JSON object on one line"}});
    finish(id);
    return;
  }
  try {
    handler_(id, request);
  } catch (const std::exception& e) {
    // A malformed field ({"replicas": "x"}) must cost the client its answer, not the launch.
    send(id, {{"error", std::string("bad request: ") + e.what()}});
    finish(id);
  }
}

void ControlServer::send(ConnId id, const nlohmann::json& line) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  it->second.out += line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  flush(id);
}

void ControlServer::finish(ConnId id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  it->second.finishing = true;
  flush(id);
}

void ControlServer::flush(ConnId id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& c = it->second;
  while (!c.out.empty()) {
    const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n < 0) {
      drop(id);
      return;
    }
    c.out.erase(0, static_cast<std::size_t>(n));
  }
  if (c.out.empty()) {
    if (c.writer != 0) reactor_.remove(std::exchange(c.writer, 0));
    if (c.finishing) drop(id);
    return;
  }
  if (c.out.size() > kMaxQueued) {
    drop(id);  // a client that does not read must not grow the launcher
    return;
  }
  if (c.writer == 0)
    c.writer = reactor_.add_fd(c.fd, ZMQ_POLLOUT, [this, id](short) { flush(id); });
}

void ControlServer::drop(ConnId id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  reactor_.remove(it->second.reader);
  if (it->second.writer != 0) reactor_.remove(it->second.writer);
  ::close(it->second.fd);
  conns_.erase(it);
}

void control_request(const std::filesystem::path& path, const nlohmann::json& request,
                     const std::function<void(const nlohmann::json&)>& on_line) {
  const sockaddr_un a = address_of(path);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw Error(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error("cannot reach the launch at " + path.string() + ": " + std::strerror(err));
  }
  const std::string req = request.dump() + "\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    const int err = errno;
    ::close(fd);
    throw Error("cannot send to the launch at " + path.string() + ": " + std::strerror(err));
  }
  std::string in;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    in.append(buf, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (auto nl = in.find('\n'); nl != std::string::npos; nl = in.find('\n', start)) {
      const auto j = nlohmann::json::parse(in.substr(start, nl - start), nullptr, false);
      if (!j.is_discarded()) on_line(j);
      start = nl + 1;
    }
    in.erase(0, start);
  }
  ::close(fd);
}

}  // namespace brook::launch
