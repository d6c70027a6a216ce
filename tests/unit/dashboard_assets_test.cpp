// The dashboard's embedded files and what the directory's HTTP listener answers for them.
#include "dashboard_assets.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "support/process.hpp"

namespace brook::detail {
namespace {

std::string header(const DashboardResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return std::string(v);
  return {};
}

std::map<std::string, std::string> embedded() {
  std::map<std::string, std::string> out;
  for (const auto& f : dashboard_files())
    out[std::string(f.name)] = std::string(f.bytes());
  return out;
}

TEST(DashboardAssets, EmbedsTheSourceFilesAsTheyAre) {
  const auto files = embedded();
  ASSERT_TRUE(files.contains("index.html"));
  for (const auto& [name, bytes] : files) {
    std::ifstream in(test::source_path("nodes/directory/dashboard/" + name), std::ios::binary);
    std::stringstream source;
    source << in.rdbuf();
    EXPECT_EQ(bytes, source.str()) << name << ": the embedded copy is stale (rebuild)";
  }
}

// A script or stylesheet the page names but the binary lacks would be a 404 in the browser.
TEST(DashboardAssets, EveryFileThePageNamesIsEmbedded) {
  const auto files = embedded();
  const std::string& page = files.at("index.html");
  const std::regex ref(R"re((src|href)="/assets/([^"]+)")re");
  std::set<std::string> named;
  for (std::sregex_iterator it(page.begin(), page.end(), ref), end; it != end; ++it)
    named.insert((*it)[2]);
  EXPECT_GE(named.size(), 4u);
  for (const auto& name : named)
    EXPECT_TRUE(files.contains(name)) << name;
}

// Offline: nothing is loaded from another origin. The only absolute URL allowed is SVG's
// namespace name, which is never fetched.
TEST(DashboardAssets, NamesNoOtherOrigin) {
  const std::regex url(R"(https?://[^\s"'`)]*)");
  for (const auto& [name, bytes] : embedded()) {
    for (std::sregex_iterator it(bytes.begin(), bytes.end(), url), end; it != end; ++it)
      EXPECT_EQ(it->str(), "http://www.w3.org/2000/svg") << name;
  }
}

TEST(DashboardAssets, ServesThePageAtTheRoot) {
  const auto r = dashboard_response("/", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("<svg id=\"graph\""), std::string_view::npos);
  EXPECT_EQ(header(r, "Cache-Control"), "no-cache");
  EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff");
  EXPECT_NE(header(r, "Content-Security-Policy").find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(r.etag.front(), '"');
  EXPECT_EQ(dashboard_response("/index.html", "").body, r.body);
}

TEST(DashboardAssets, ServesEachFileWithItsContentType) {
  EXPECT_EQ(dashboard_response("/assets/app.js", "").content_type,
            "text/javascript; charset=utf-8");
  EXPECT_EQ(dashboard_response("/assets/dashboard.css", "").content_type,
            "text/css; charset=utf-8");
  EXPECT_EQ(dashboard_response("/assets/favicon.svg", "").content_type, "image/svg+xml");
  EXPECT_EQ(dashboard_content_type("x.png"), "image/png");
  EXPECT_EQ(dashboard_content_type("README"), "application/octet-stream");
  for (const auto& f : dashboard_files()) {
    const auto r = dashboard_response("/assets/" + std::string(f.name), "");
    EXPECT_EQ(r.status, 200) << f.name;
    EXPECT_EQ(r.body, f.bytes()) << f.name;
  }
}

TEST(DashboardAssets, AnswersNotFoundForAnythingElse) {
  for (const char* path : {"/assets/", "/assets/../index.html", "/assets/nope.js", "/app.js",
                           "/assets/app.js/", "/assets//app.js", "//", ""}) {
    const auto r = dashboard_response(path, "");
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.content_type, "text/plain; charset=utf-8") << path;
    EXPECT_TRUE(r.etag.empty()) << path;
  }
}

TEST(DashboardAssets, RevalidationWithTheCurrentTagIsNotModified) {
  const auto first = dashboard_response("/assets/app.js", "");
  for (const std::string& inm :
       {first.etag, "W/" + first.etag, "\"other\", " + first.etag, std::string("*")}) {
    const auto r = dashboard_response("/assets/app.js", inm);
    EXPECT_EQ(r.status, 304) << inm;
    EXPECT_TRUE(r.body.empty()) << inm;
    EXPECT_EQ(r.etag, first.etag) << inm;
  }
  EXPECT_EQ(dashboard_response("/assets/app.js", "\"older\"").status, 200);
  // Another file's tag does not revalidate this one.
  EXPECT_EQ(dashboard_response("/", first.etag).status, 200);
}

TEST(DashboardAssets, TagsDifferWhenBytesDiffer) {
  std::map<std::string, std::string> by_tag;
  for (const auto& f : dashboard_files()) {
    const auto [it, fresh] = by_tag.emplace(std::string(f.etag), std::string(f.bytes()));
    EXPECT_TRUE(fresh || it->second == f.bytes()) << f.name;
  }
}

}  // namespace
}  // namespace brook::detail
