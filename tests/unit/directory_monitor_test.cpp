// The directory's HTTP listener's plain logic (docs/monitoring.md): the Prometheus text of
// /metrics, the /api/topology JSON and its rates, the latency histogram's buckets and how the
// heartbeat carries them, and the directory.http address.
#include <gtest/gtest.h>

#include <brook/envelope_codec.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "directory/directory_protocol.hpp"
#include "metrics_text.hpp"
#include "topology/http_address.hpp"
#include "topology_json.hpp"

namespace brook {
namespace {

using nlohmann::json;

MonitoredInstance instance(std::string node, std::uint32_t n, std::string scope = "shop") {
  MonitoredInstance m;
  m.info.topology = std::move(scope);
  m.info.node = std::move(node);
  m.info.instance = n;
  m.info.host = "127.0.0.1";
  m.info.pid = 100 + n;
  m.info.age_ms = 200;
  return m;
}

// A source feeding two sinks over `jobs`, the second heartbeat 1 s after the first.
MonitorSnapshot sample() {
  MonitorSnapshot s;
  s.time_ms = 1765000000000;
  s.epoch = "e1";
  s.endpoint = "tcp://127.0.0.1:5670";
  s.heartbeat_ms = 1000;
  s.topology.name = "shop";
  s.topology.replicas = {{"source", 1}, {"sink", 3}};
  s.topology.channels["jobs"] = {"pipeline", "at-least-once"};
  s.topology.producers["jobs"] = {"source"};
  s.topology.consumers["jobs"] = {"sink"};

  auto src = instance("source", 0);
  src.info.registrations = {{"jobs", Direction::kOut, Pattern::kPipeline, "", "out", false}};
  src.previous.channels["jobs"].sent = 1000;
  auto& out = src.info.counters.channels["jobs"];
  out.sent = 3000;
  out.emitted = 3000;
  out.in_flight = 12;
  out.lag_ms = 1500;
  src.info.counters.uptime_ms = 5000;
  src.info.counters.user_counters["lines_seen"] = 7;
  src.info.counters.user_gauges["queue_depth"] = -3;
  src.interval_ms = 1000;
  s.instances.push_back(src);

  for (std::uint32_t i = 0; i < 2; ++i) {
    auto sink = instance("sink", i);
    sink.info.registrations = {
        {"jobs", Direction::kIn, Pattern::kPipeline, "tcp://127.0.0.1:7000", "in", false}};
    sink.previous.channels["jobs"].received = 500;
    auto& in = sink.info.counters.channels["jobs"];
    in.received = 1500;
    in.handled = 1499;
    in.handler_errors = 1;
    in.duplicates = 2;
    in.latency.record(std::chrono::microseconds(3));  // <= 4 µs
    in.latency.record(std::chrono::microseconds(3));
    in.latency.record(std::chrono::milliseconds(2));  // <= 2048 µs
    sink.interval_ms = 1000;
    s.instances.push_back(sink);
  }
  s.instances[2].info.age_ms = 2500;  // late: no heartbeat for over two periods
  return s;
}

// The value of the sample `series` (name and labels exactly as written), or -1.
double value_of(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

TEST(LatencyHistogram, BucketsArePowersOfTwoMicroseconds) {
  EXPECT_EQ(LatencyHistogram::bucket_of(0), 0u);
  EXPECT_EQ(LatencyHistogram::bucket_of(1000), 0u);  // 1 µs: le 1e-06
  EXPECT_EQ(LatencyHistogram::bucket_of(1001), 1u);  // rounded up to 2 µs
  EXPECT_EQ(LatencyHistogram::bucket_of(2000), 1u);
  EXPECT_EQ(LatencyHistogram::bucket_of(2001), 2u);
  EXPECT_EQ(LatencyHistogram::bucket_of(4000), 2u);
  EXPECT_EQ(LatencyHistogram::bucket_of(4001), 3u);
  EXPECT_EQ(LatencyHistogram::bucket_of((1ull << 23) * 1000), 23u);  // 8.4 s
  EXPECT_EQ(LatencyHistogram::bucket_of((1ull << 23) * 1000 + 1), 24u);
  EXPECT_EQ(LatencyHistogram::bucket_of(~0ull), 24u);
  LatencyHistogram h;
  h.record(std::chrono::nanoseconds(-5));  // a clock that went back counts as 0
  h.record(std::chrono::microseconds(3));
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.sum_ns, 3000u);
  EXPECT_EQ(h.counts[0], 1u);
  EXPECT_EQ(h.counts[2], 1u);
}

TEST(HeartbeatLatency, TravelsAndIsBounded) {
  HeartbeatRequest hb{"sink", 1, "inc", {}};
  hb.counters.channels["jobs"].latency.record(std::chrono::microseconds(3));
  hb.counters.channels["jobs"].latency.record(std::chrono::milliseconds(2));
  hb.counters.channels["jobs"].received = 2;
  hb.counters.channels["out"].sent = 1;  // no handler ran: no latency entry
  const std::string frame = encode(DirectoryRequest{7, hb});
  DirectoryRequest back;
  ASSERT_TRUE(decode(as_bytes(frame), back));
  const auto& c = std::get<HeartbeatRequest>(back.body).counters;
  EXPECT_EQ(c.channels.at("jobs").latency.counts, hb.counters.channels["jobs"].latency.counts);
  EXPECT_EQ(c.channels.at("jobs").latency.sum_ns, 2003000u);
  EXPECT_EQ(c.channels.at("out").latency.count(), 0u);
  EXPECT_EQ(frame.find("latency"), frame.rfind("latency")) << "one latency map";

  // More buckets than brook has, or counts that are not unsigned, are refused.
  auto with_latency = [](const std::string& buckets_json) {
    json counters = {
        {"latency", {{"jobs", {{"sum_ns", 1}, {"buckets", json::parse(buckets_json)}}}}}};
    json req = {{"v", 3},
                {"op", "heartbeat"},
                {"id", 1},
                {"node", "sink"},
                {"instance", 1},
                {"incarnation", "inc"},
                {"counters", counters}};
    const auto bytes = json::to_msgpack(req);
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  };
  DirectoryRequest out;
  EXPECT_TRUE(decode(as_bytes(with_latency("[1, 2, 3]")), out));
  const auto too_many = decode(as_bytes(with_latency(json(std::vector<int>(26, 1)).dump())), out);
  EXPECT_FALSE(too_many);
  EXPECT_NE(too_many.error.find("buckets"), std::string::npos) << too_many.error;
  const auto negative = decode(as_bytes(with_latency("[1, -2]")), out);
  EXPECT_FALSE(negative);
  EXPECT_NE(negative.error.find("expected unsigned counts"), std::string::npos) << negative.error;
}

TEST(MetricsText, EveryChannelCounterHasHelp) {
  for (const auto& f : kChannelCounterFields)
    EXPECT_FALSE(channel_metric_info(f.name).help.empty()) << f.name;
}

TEST(MetricsText, FamiliesHaveHelpAndTypeAndCountersEndInTotal) {
  const std::string text = render_metrics(sample());
  std::istringstream in(text);
  std::string line;
  std::map<std::string, std::string> types;
  std::set<std::string> helped;
  const std::regex sample_line(R"(^([a-z_]+)(\{[^}]*\})? (\S+)$)");
  while (std::getline(in, line)) {
    std::smatch m;
    if (line.rfind("# HELP ", 0) == 0) {
      helped.insert(line.substr(7, line.find(' ', 7) - 7));
    } else if (line.rfind("# TYPE ", 0) == 0) {
      const auto name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_FALSE(types.count(name)) << "family twice: " << name;
      types[name] = line.substr(line.find(' ', 7) + 1);
      EXPECT_TRUE(helped.count(name)) << "no HELP before TYPE: " << name;
    } else {
      ASSERT_TRUE(std::regex_match(line, m, sample_line)) << line;
      std::string family = m[1];
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string s = suffix;
        if (family.size() > s.size() && family.ends_with(s) &&
            types.count(family.substr(0, family.size() - s.size())))
          family = family.substr(0, family.size() - s.size());
      }
      EXPECT_TRUE(types.count(family)) << "sample before its TYPE: " << line;
    }
  }
  for (const auto& [name, type] : types) {
    if (type == "counter") {
      EXPECT_TRUE(name.ends_with("_total")) << name;
    } else {
      EXPECT_FALSE(name.ends_with("_total")) << name;
    }
  }
  EXPECT_EQ(types["brook_handler_duration_seconds"], "histogram");
  EXPECT_EQ(types["brook_channel_in_flight"], "gauge");
  EXPECT_EQ(types["brook_channel_received_total"], "counter");
  EXPECT_EQ(types["brook_user_total"], "counter");
  EXPECT_EQ(types["brook_user_level"], "gauge");
}

TEST(MetricsText, ValuesPerInstanceAndChannel) {
  const std::string text = render_metrics(sample());
  const std::string sink0 = R"(topology="shop",node="sink",instance="0",channel="jobs")";
  const std::string src = R"(topology="shop",node="source",instance="0")";
  EXPECT_EQ(value_of(text, "brook_channel_received_total{" + sink0 + "}"), 1500);
  EXPECT_EQ(value_of(text, "brook_channel_handled_total{" + sink0 + "}"), 1499);
  EXPECT_EQ(value_of(text, "brook_channel_duplicates_total{" + sink0 + "}"), 2);
  EXPECT_EQ(value_of(text, "brook_channel_sent_total{" + src + R"(,channel="jobs"})"), 3000);
  EXPECT_EQ(value_of(text, "brook_channel_in_flight{" + src + R"(,channel="jobs"})"), 12);
  EXPECT_EQ(value_of(text, "brook_channel_lag_seconds{" + src + R"(,channel="jobs"})"), 1.5);
  EXPECT_EQ(value_of(text, "brook_user_total{" + src + R"(,name="lines_seen"})"), 7);
  EXPECT_EQ(value_of(text, "brook_user_level{" + src + R"(,name="queue_depth"})"), -3);
  EXPECT_EQ(value_of(text, R"(brook_instance_up{topology="shop",node="sink",instance="0"})"), 1);
  EXPECT_EQ(value_of(text, R"(brook_instance_up{topology="shop",node="sink",instance="1"})"), 0);
  EXPECT_EQ(value_of(text, "brook_directory_instances"), 3);
  EXPECT_EQ(value_of(text, "brook_directory_up"), 1);
}

TEST(MetricsText, LatencyIsACumulativeHistogramInSeconds) {
  const std::string text = render_metrics(sample());
  const std::string sink0 = R"(topology="shop",node="sink",instance="0",channel="jobs")";
  const auto bucket = [&](const std::string& le) {
    return value_of(text, "brook_handler_duration_seconds_bucket{" + sink0 + ",le=\"" + le + "\"}");
  };
  EXPECT_EQ(bucket("1e-06"), 0);
  EXPECT_EQ(bucket("2e-06"), 0);
  EXPECT_EQ(bucket("4e-06"), 2);
  EXPECT_EQ(bucket("0.001024"), 2);
  EXPECT_EQ(bucket("0.002048"), 3);
  EXPECT_EQ(bucket("8.388608"), 3);
  EXPECT_EQ(bucket("+Inf"), 3);
  EXPECT_EQ(value_of(text, "brook_handler_duration_seconds_count{" + sink0 + "}"), 3);
  EXPECT_DOUBLE_EQ(value_of(text, "brook_handler_duration_seconds_sum{" + sink0 + "}"), 0.002006);
  EXPECT_EQ(text.find(R"(brook_handler_duration_seconds_count{topology="shop",node="source")"),
            std::string::npos)
      << "no histogram for a channel whose handler never ran";
}

TEST(MetricsText, LabelValuesAreEscapedAndAlwaysPrintable) {
  MonitorSnapshot s;
  auto m = instance("we\"ird\\", 0, "");
  m.info.counters.channels["a\nb\xff"].received = 1;
  s.instances.push_back(m);
  const std::string text = render_metrics(s);
  EXPECT_NE(
      text.find(
          R"(brook_channel_received_total{topology="",node="we\"ird\\",instance="0",channel="a?b?"} 1)"),
      std::string::npos)
      << text;
}

TEST(TopologyJson, NodesChannelsAndRates) {
  const json j = json::parse(render_topology_json(sample()));
  EXPECT_EQ(j["time_ms"], 1765000000000);
  EXPECT_EQ(j["directory"]["epoch"], "e1");
  EXPECT_EQ(j["scopes"], json::array({"shop"}));
  ASSERT_EQ(j["nodes"].size(), 2u);
  const json& sink = j["nodes"][0];
  EXPECT_EQ(sink["name"], "sink");
  EXPECT_EQ(sink["replicas"], 3) << "declared replicas, not the two seen";
  ASSERT_EQ(sink["instances"].size(), 2u);
  EXPECT_EQ(sink["instances"][0]["health"], "up");
  EXPECT_EQ(sink["instances"][1]["health"], "late");
  EXPECT_DOUBLE_EQ(sink["instances"][0]["rates"]["received"].get<double>(), 1000.0);
  EXPECT_EQ(sink["instances"][0]["counters"]["channels"]["jobs"]["received"], 1500);
  EXPECT_EQ(sink["instances"][0]["counters"]["latency"]["jobs"]["buckets"][2], 2);
  ASSERT_EQ(j["channels"].size(), 1u);
  const json& jobs = j["channels"][0];
  EXPECT_EQ(jobs["scope"], "shop");
  EXPECT_EQ(jobs["delivery"], "at-least-once");
  EXPECT_EQ(jobs["producers"], json::array({"source"}));
  EXPECT_EQ(jobs["consumers"], json::array({"sink"}));
  EXPECT_DOUBLE_EQ(jobs["rate"].get<double>(), 2000.0);
  EXPECT_DOUBLE_EQ(jobs["sent_rate"].get<double>(), 2000.0);
  EXPECT_EQ(jobs["in_flight"], 12);
  EXPECT_EQ(jobs["lag_ms"], 1500);
  EXPECT_EQ(jobs["errors"], 2);
  EXPECT_EQ(jobs["duplicates"], 4);
  for (const char* key : {"pending", "dead_lettered", "redelivered", "retried"})
    EXPECT_EQ(jobs[key], 0) << key;
}

TEST(TopologyJson, EveryFieldIsThereWithOneHeartbeatAndWithoutATopology) {
  MonitorSnapshot s;
  auto m = instance("worker", 0, "");
  m.info.registrations = {{"c", Direction::kIn, Pattern::kPubsub, "tcp://x:1", "in", false},
                          {"c", Direction::kIn, Pattern::kPubsub, "tcp://x:2", "tap", true}};
  m.info.counters.channels["c"].received = 10;
  s.instances.push_back(m);  // interval_ms 0: one heartbeat so far
  const json j = json::parse(render_topology_json(s));
  EXPECT_EQ(j["scopes"], json::array({""}));
  EXPECT_EQ(j["nodes"][0]["replicas"], 1);
  EXPECT_EQ(j["nodes"][0]["instances"][0]["rates"]["received"], 0.0);
  const json& c = j["channels"][0];
  EXPECT_EQ(c["pattern"], "pubsub");
  EXPECT_EQ(c["delivery"], "");
  EXPECT_EQ(c["producers"], json::array());
  EXPECT_EQ(c["consumers"], json::array({"worker"})) << "a tap is no consumer";
  EXPECT_EQ(c["rate"], 0.0);
}

TEST(TopologyJson, ARestartedInstanceHasNoNegativeRate) {
  EXPECT_EQ(rate_per_second(100, 50, 1000), 0.0);
  EXPECT_EQ(rate_per_second(100, 150, 0), 0.0);
  EXPECT_DOUBLE_EQ(rate_per_second(100, 150, 500), 100.0);
}

TEST(TopologyJson, HealthSaysOk) {
  const json j = json::parse(render_health_json(sample()));
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["instances"], 3);
  EXPECT_EQ(j["late"], 1);
}

// 100 instances of 3 channels each, every counter set: what a scrape and a dashboard refresh cost
// the directory's HTTP thread. The bound is loose (shared CI machines); the times are printed.
TEST(MonitorRendering, AHundredInstancesRenderInMilliseconds) {
  MonitorSnapshot s;
  for (std::uint32_t i = 0; i < 100; ++i) {
    auto m = instance("node" + std::to_string(i % 10), i / 10);
    for (const char* ch : {"a", "b", "c"}) {
      auto& c = m.info.counters.channels[ch];
      for (const auto& f : kChannelCounterFields)
        c.*f.member = 1000 + i;
      for (int k = 0; k < 1000; ++k)
        c.latency.record(std::chrono::nanoseconds(k * 997));
      m.info.registrations.push_back({ch, i % 2 ? Direction::kIn : Direction::kOut,
                                      Pattern::kPipeline, "tcp://h:1", "p", false});
    }
    m.previous = m.info.counters;
    m.interval_ms = 1000;
    s.instances.push_back(std::move(m));
  }
  const auto time = [](auto&& fn) {
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t bytes = 0;
    for (int i = 0; i < 10; ++i)
      bytes += fn().size();
    EXPECT_GT(bytes, 0u);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
               .count() /
           10;
  };
  const double metrics_ms = time([&] { return render_metrics(s); });
  const double topology_ms = time([&] { return render_topology_json(s); });
  std::cout << "render_metrics: " << metrics_ms << " ms, " << render_metrics(s).size()
            << " bytes; render_topology_json: " << topology_ms << " ms, "
            << render_topology_json(s).size() << " bytes\n";
  EXPECT_LT(metrics_ms, 100);
  EXPECT_LT(topology_ms, 100);
}

TEST(HttpAddress, ParsesWhatTheDocsSay) {
  std::string why;
  auto a = detail::parse_http_address("127.0.0.1:9464", why);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9464);
  a = detail::parse_http_address("9464", why);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1") << "loopback by default";
  a = detail::parse_http_address("[::1]:0", why);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(detail::format_http_address(*a), "[::1]:0");
  for (const char* bad : {"", "host:", "host:65536", "http://127.0.0.1:9464", "::1:80", "a b:1",
                          "[zz]:1", "1.2.3.4:x"}) {
    EXPECT_FALSE(detail::parse_http_address(bad, why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

}  // namespace
}  // namespace brook
