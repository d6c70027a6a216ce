// The dashboard's files (nodes/directory/dashboard/), embedded in brook-directory at build time
// (cmake/EmbedFiles.cmake), and what the HTTP listener answers for a path: plain logic, tested
// without sockets (tests/unit/dashboard_assets_test.cpp).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace brook::detail {

struct EmbeddedFile {
  std::string_view name;  // relative to the embedded directory, e.g. "app.js"
  const unsigned char* data;
  std::size_t size;
  std::string_view etag;  // a hash of the bytes: a new build's file gets a new tag
  std::string_view bytes() const { return {reinterpret_cast<const char*>(data), size}; }
};

// Generated: every file of nodes/directory/dashboard/ in the build.
std::span<const EmbeddedFile> dashboard_files();

struct DashboardResponse {
  int status = 404;       // 200, 304 (the browser's copy is current) or 404
  std::string_view body;  // the file; for 404 a one-line explanation
  std::string content_type;
  std::string etag;  // quoted, as the ETag header wants it; empty for 404
  // Header name and value pairs to send with every answer (caching and content security).
  std::span<const std::pair<std::string_view, std::string_view>> headers;
};

// The content type a browser needs for a file name, by its extension.
std::string dashboard_content_type(std::string_view name);

// What to answer for GET `path` ("/" is the page, "/assets/NAME" the files) given the request's
// If-None-Match header (empty when absent). An unknown path is a 404 answer, not an error.
DashboardResponse dashboard_response(std::string_view path, std::string_view if_none_match,
                                     std::span<const EmbeddedFile> files = dashboard_files());

}  // namespace brook::detail
