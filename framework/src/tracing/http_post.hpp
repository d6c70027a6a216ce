// A minimal HTTP/1.1 client for the span exporter: one POST per batch on a fresh connection,
// plain http only (collectors on loopback or a trusted network; put a collector or proxy next
// to the node for TLS). Linking cpp-httplib into every node costs ~19 ms of dynamic loading at
// each start (its libssl, libcrypto and brotli), measured on this project's VMs; this does not.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace brook::detail {

struct HttpUrl {
  std::string host;
  std::string port = "80";
  std::string path = "/";
};

// "http://host[:port][/path]"; nullopt (with `why`) for anything else.
std::optional<HttpUrl> parse_http_url(std::string_view url, std::string& why);

// POSTs `body` as application/json; returns the status code, or 0 with `error` set when the
// connection or the exchange failed within `timeout`.
int http_post_json(const HttpUrl& url, std::string_view body, std::chrono::milliseconds timeout,
                   std::string& error);

}  // namespace brook::detail
