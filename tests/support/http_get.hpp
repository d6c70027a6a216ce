// Test support: a plain HTTP/1.0 GET over a loopback socket, so tests of the directory's HTTP
// listener and of a Prometheus server need no HTTP library.
#pragma once

#include <chrono>
#include <string>

namespace brook::test {

struct HttpResponse {
  int status = 0;  // 0: no connection or no HTTP answer
  std::string content_type;
  std::string body;
};

// GET http://host:port/path (path with its query, already encoded); gives up after `timeout`.
HttpResponse http_get(const std::string& host, int port, const std::string& path,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5));

// %-encodes everything but unreserved characters, for a query parameter.
std::string url_encode(const std::string& s);

}  // namespace brook::test
