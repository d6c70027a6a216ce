#include "tracing/http_post.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace brook::detail {

std::optional<HttpUrl> parse_http_url(std::string_view url, std::string& why) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    why = "expected an http:// URL, got '" + std::string(url) + "'";
    return std::nullopt;
  }
  url.remove_prefix(kScheme.size());
  HttpUrl u;
  const std::size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  if (slash != std::string_view::npos) u.path = std::string(url.substr(slash));
  const std::size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    u.port = std::string(authority.substr(colon + 1));
    authority = authority.substr(0, colon);
    const bool digits = !u.port.empty() && u.port.size() <= 5 &&
                        u.port.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::stoul(u.port) == 0 || std::stoul(u.port) > 65535) {
      why = "bad port '" + u.port + "' in '" + std::string(kScheme) + std::string(url) + "'";
      return std::nullopt;
    }
  }
  if (authority.empty()) {
    why = "no host in '" + std::string(kScheme) + std::string(url) + "'";
    return std::nullopt;
  }
  u.host = std::string(authority);
  return u;
}

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, static_cast<int>(left.count())) == 1;
}

}  // namespace

int http_post_json(const HttpUrl& url, std::string_view body, std::chrono::milliseconds timeout,
                   std::string& error) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &found); rc != 0) {
    error = "cannot resolve '" + url.host + "': " + ::gai_strerror(rc);
    return 0;
  }
  Fd sock;
  error = "no address for '" + url.host + "'";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    Fd s{::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol)};
    if (s.fd < 0) continue;
    if (::connect(s.fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      error = "cannot connect to " + url.host + ":" + url.port + ": " + std::strerror(errno);
      continue;
    }
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (!wait_for(s.fd, POLLOUT, deadline) ||
        ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
      error = "cannot connect to " + url.host + ":" + url.port + ": " +
              (soerr != 0 ? std::strerror(soerr) : "timed out");
      continue;
    }
    std::swap(sock.fd, s.fd);
    break;
  }
  ::freeaddrinfo(found);
  if (sock.fd < 0) return 0;

  std::string request =
      "POST " + url.path + " HTTP/1.1\r\nHost: " + url.host + ":" + url.port +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n";
  request.append(body);
  for (std::size_t sent = 0; sent < request.size();) {
    if (!wait_for(sock.fd, POLLOUT, deadline)) {
      error = "timed out sending to " + url.host + ":" + url.port;
      return 0;
    }
    const ssize_t n = ::send(sock.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      error = std::string("sending: ") + std::strerror(errno);
      return 0;
    }
    if (n > 0) sent += static_cast<std::size_t>(n);
  }
  // Only the status line matters: "HTTP/1.1 200 OK".
  std::string response;
  char buf[512];
  while (response.find("\r\n") == std::string::npos && response.size() < 4096) {
    if (!wait_for(sock.fd, POLLIN, deadline)) {
      error = "no answer from " + url.host + ":" + url.port;
      return 0;
    }
    const ssize_t n = ::recv(sock.fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      error = std::string("receiving: ") + std::strerror(errno);
      return 0;
    }
    response.append(buf, static_cast<std::size_t>(n));
  }
  if (response.size() < 12 || response.compare(0, 5, "HTTP/") != 0) {
    error = "not an HTTP answer from " + url.host + ":" + url.port;
    return 0;
  }
  const std::size_t sp = response.find(' ');
  if (sp == std::string::npos || sp + 4 > response.size()) {
    error = "malformed status line";
    return 0;
  }
  return std::atoi(response.c_str() + sp + 1);
}

}  // namespace brook::detail
