// The directory's HTTP listener with real processes (docs/monitoring.md): brook up of a source
// and two sinks with directory.http on a free port; /metrics passes `promtool check metrics`, a
// real Prometheus server scrapes it and answers a rate() above 0; /api/topology shows the edge;
// brook-directory --http alone reports its URL and refuses a bad address.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "support/command.hpp"
#include "support/http_get.hpp"
#include "support/process.hpp"
#include "support/up_fixture.hpp"

namespace brook::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPromtool = "/usr/bin/promtool";
constexpr const char* kPrometheus = "/usr/bin/prometheus";

// "http://127.0.0.1:PORT/" -> PORT, or 0.
int port_of(const std::string& url) {
  std::smatch m;
  static const std::regex re(R"(http://127\.0\.0\.1:(\d+)/)");
  return std::regex_search(url, m, re) ? std::stoi(m[1]) : 0;
}

class MetricsTest : public UpTest {};

TEST_F(MetricsTest, PrometheusScrapesTheGraphThroughTheDirectory) {
  if (!std::filesystem::exists(kPromtool) || !std::filesystem::exists(kPrometheus))
    GTEST_SKIP() << "needs promtool and prometheus (Debian package prometheus; scripts/setup)";
  topology(R"(
topology: metered
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s, http: '127.0.0.1:0'}
channels: {work: {}}
nodes:
  source: {exec: brook-test-source, outputs: {out: work}, params: {count: 100000000, rate: 500}}
  sink: {exec: brook-test-sink, replicas: 2, inputs: {in: work}}
)");
  Process up_process = up();
  // The directory logs where it listens; brook up shows its log.
  int port = 0;
  ASSERT_TRUE(wait_for([&] { return (port = port_of(up_process.log())) != 0; }, 15s))
      << up_process.log();

  // Counters arrive with heartbeats: wait until the sinks' show up non-zero.
  HttpResponse metrics;
  const std::regex received(
      R"re(brook_channel_received_total\{topology="metered",node="sink",instance="\d",channel="work"\} [1-9])re");
  ASSERT_TRUE(wait_for(
      [&] {
        metrics = http_get("127.0.0.1", port, "/metrics");
        return metrics.status == 200 && std::regex_search(metrics.body, received) &&
               metrics.body.find("brook_handler_duration_seconds_count{topology=\"metered\"") !=
                   std::string::npos;
      },
      20s, 100ms))
      << metrics.status << "\n"
      << metrics.body << "\n"
      << up_process.log();
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");

  // promtool reads the exposition from stdin; any lint problem is printed and exits 1.
  const auto file = dir_.write("metrics.txt", metrics.body);
  const auto check = run_command(
      {"/bin/sh", "-c", std::string(kPromtool) + " check metrics < '" + file.string() + "'"}, 30s);
  EXPECT_EQ(check.code, 0) << check.describe();
  EXPECT_EQ(check.out + check.err, "") << "no lint remarks";

  const auto topo = http_get("127.0.0.1", port, "/api/topology");
  ASSERT_EQ(topo.status, 200);
  const auto j = nlohmann::json::parse(topo.body);
  ASSERT_EQ(j["channels"].size(), 1u) << j.dump(2);
  EXPECT_EQ(j["channels"][0]["producers"], nlohmann::json::array({"source"}));
  EXPECT_EQ(j["channels"][0]["consumers"], nlohmann::json::array({"sink"}));
  EXPECT_EQ(http_get("127.0.0.1", port, "/health").status, 200);

  // A real Prometheus server, scraping every second, on a free loopback port.
  const int prom_port = free_port();
  const auto config = dir_.write("prometheus.yml", R"(
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: brook
    static_configs: [{targets: ['127.0.0.1:)" + std::to_string(port) +
                                                       R"(']}]
)");
  Process prometheus =
      Process::start({.argv = {kPrometheus, "--config.file=" + config.string(),
                               "--storage.tsdb.path=" + (dir_ / "tsdb").string(),
                               "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
                      .env = {},
                      .log = dir_ / "prometheus.log",
                      .wait_ready = false});
  const std::string query =
      "/api/v1/query?query=" +
      url_encode(
          R"(sum(rate(brook_channel_received_total{topology="metered",channel="work"}[5s])))");
  double rate = 0;
  HttpResponse answer;
  const bool got = wait_for(
      [&] {
        answer = http_get("127.0.0.1", prom_port, query);
        if (answer.status != 200) return false;
        const auto r = nlohmann::json::parse(answer.body, nullptr, false);
        if (r.is_discarded() || r.value("status", "") != "success") return false;
        const auto& result = r["data"]["result"];
        if (result.empty()) return false;
        rate = std::stod(result[0]["value"][1].get<std::string>());
        return rate > 0;
      },
      60s, 500ms);
  EXPECT_TRUE(got) << "last answer: " << answer.status << " " << answer.body << "\n"
                   << tail(prometheus.log_path());
  EXPECT_GT(rate, 100) << "the source sends 500 messages a second";
  // The scrape itself was healthy: up == 1 for the target.
  const auto up_answer = http_get("127.0.0.1", prom_port, "/api/v1/query?query=up");
  EXPECT_NE(up_answer.body.find(R"("value":[)"), std::string::npos) << up_answer.body;
  EXPECT_NE(up_answer.body.find(R"(,"1"]})"), std::string::npos) << up_answer.body;
  EXPECT_EQ(prometheus.stop(10s), 0) << tail(prometheus.log_path());
  up_process.stop();
}

TEST(DirectoryHttp, ReportsItsUrlAndRefusesABadAddress) {
  TempDir dir;
  Process d = Process::start(
      {.argv = {bin("brook-directory"), "--bind", "tcp://127.0.0.1:*", "--http", "127.0.0.1:0"},
       .env = {},
       .log = dir / "directory.log"});
  const std::string url = d.ready_value("http");
  const int port = port_of(url);
  ASSERT_NE(port, 0) << d.ready_info();
  const auto health = http_get("127.0.0.1", port, "/health");
  ASSERT_EQ(health.status, 200);
  EXPECT_EQ(nlohmann::json::parse(health.body)["status"], "ok");
  EXPECT_EQ(http_get("127.0.0.1", port, "/nothing").status, 404);
  EXPECT_TRUE(wait_for([&] { return d.log().find("http: " + url) != std::string::npos; }, 5s))
      << d.log();

  // The same port again cannot be bound: exit 2 naming the flag.
  const auto taken = run_command({bin("brook-directory"), "--bind", "tcp://127.0.0.1:*", "--http",
                                  "127.0.0.1:" + std::to_string(port)},
                                 10s);
  EXPECT_EQ(taken.code, 2) << taken.describe();
  EXPECT_NE(taken.err.find("cannot serve HTTP on 127.0.0.1:" + std::to_string(port) + " (--http)"),
            std::string::npos)
      << taken.describe();
  const auto bad = run_command({bin("brook-directory"), "--http", "localhost:99999"}, 10s);
  EXPECT_EQ(bad.code, 2) << bad.describe();
  EXPECT_NE(bad.err.find("--http: port '99999' is not a number from 0 to 65535"), std::string::npos)
      << bad.describe();
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace brook::test
