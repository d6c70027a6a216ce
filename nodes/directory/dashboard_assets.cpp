#include "dashboard_assets.hpp"

#include <array>
#include <utility>

namespace brook::detail {

namespace {

using Header = std::pair<std::string_view, std::string_view>;

// no-cache = "revalidate first": the file names carry no version, so a browser must not run an
// older app.js against a newer page after brook-directory is upgraded; the ETag keeps the
// revalidation to a 304. The policy allows nothing from elsewhere: the page works offline, and
// a stray CDN reference shows up as an error in the console (the browser test fails on it).
constexpr std::array<Header, 4> kHeaders{{
    {"Cache-Control", "no-cache"},
    {"X-Content-Type-Options", "nosniff"},
    {"Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
    {"Referrer-Policy", "no-referrer"},
}};

constexpr std::string_view kAssetsPrefix = "/assets/";

// If-None-Match may list several tags ("a", "b") or be "*"; a weak W/ prefix still matches for
// a GET (RFC 9110, 13.1.2: weak comparison).
bool etag_matches(std::string_view header, std::string_view quoted) {
  if (header == "*") return true;
  std::size_t pos = 0;
  while (pos < header.size()) {
    auto end = header.find(',', pos);
    if (end == std::string_view::npos) end = header.size();
    auto tag = header.substr(pos, end - pos);
    while (!tag.empty() && tag.front() == ' ')
      tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ')
      tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == quoted) return true;
    pos = end + 1;
  }
  return false;
}

}  // namespace

std::string dashboard_content_type(std::string_view name) {
  const auto dot = name.rfind('.');
  const std::string_view ext = dot == std::string_view::npos ? "" : name.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "json") return "application/json";
  return "application/octet-stream";
}

DashboardResponse dashboard_response(std::string_view path, std::string_view if_none_match,
                                     std::span<const EmbeddedFile> files) {
  DashboardResponse r;
  r.headers = kHeaders;
  std::string_view name;
  if (path == "/" || path == "/index.html") {
    name = "index.html";
  } else if (path.starts_with(kAssetsPrefix)) {
    name = path.substr(kAssetsPrefix.size());
  }
  for (const auto& f : files) {
    if (name.empty() || f.name != name) continue;
    r.content_type = dashboard_content_type(f.name);
    r.etag = '"' + std::string(f.etag) + '"';
    if (!if_none_match.empty() && etag_matches(if_none_match, r.etag)) {
      r.status = 304;
    } else {
      r.status = 200;
      r.body = f.bytes();
    }
    return r;
  }
  r.status = 404;
  r.content_type = "text/plain; charset=utf-8";
  r.body = "not a dashboard file: the page is at / and its files under /assets/\n";
  return r;
}

}  // namespace brook::detail
