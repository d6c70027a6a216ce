// brook export's generators, without files: systemd units, Kubernetes manifests and the compose
// file for the shop and a small topology, read back (units as text, manifests with yaml-cpp).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <brook/error.hpp>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "export/export.hpp"
#include "launch/node_command.hpp"

namespace brook::exporting {
namespace {

Topology shop() {
  LoadOptions o;
  o.exec_search_path = {BROOK_BIN_DIR};
  o.env = [](const std::string&) { return std::nullopt; };
  return load_topology(std::string(BROOK_SOURCE_DIR) + "/topologies/shop.yaml", o);
}

std::string shop_text() {
  std::ifstream in(std::string(BROOK_SOURCE_DIR) + "/topologies/shop.yaml");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A topology with what the shop lacks: env, restart always, a pubsub channel, two endpoints.
Topology small() {
  Topology t = parse_topology(R"(
topology: Small_One
directory: {endpoints: ['tcp://127.0.0.1:5670', 'tcp://127.0.0.1:5671'], heartbeat: 5s, ttl: 15s}
channels: {ticks: {pattern: pubsub}, work: {}}
nodes:
  ticker: {exec: ./bin/ticker, outputs: {out: ticks}, restart: always,
           env: {GREETING: 'hello "world" 100% $HOME'}, args: ['--rate', '2 per s'],
           drain_timeout: 10s}
  printer: {exec: printer, replicas: 3, inputs: {in: ticks}, outputs: {out: work}}
  sink: {exec: sink, inputs: {in: work}, restart: never}
)",
                              "/srv/small/small.yaml");
  for (auto& n : t.nodes)
    n.exec_path = "/opt/brook/bin/" + n.name;
  t.file = "/srv/small/small.yaml";
  return t;
}

const GeneratedFile& file(const std::vector<GeneratedFile>& files, const std::string& name) {
  for (const auto& f : files) {
    if (f.name == name) return f;
  }
  throw std::runtime_error("no file " + name);
}

std::string line_of(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  }
  return "(none)";
}

TEST(ExportSystemd, OneUnitPerInstanceAndDirectoryAndATargetWantingThemAll) {
  ExportOptions o;
  o.directory_program = "/opt/brook/bin/brook-directory";
  const auto files = export_systemd(shop(), o);
  std::set<std::string> names;
  for (const auto& f : files)
    names.insert(f.name);
  const std::set<std::string> expected{
      "brook-shop-directory.service",      "brook-shop-client-0.service",
      "brook-shop-basket-0.service",       "brook-shop-product-0.service",
      "brook-shop-product-1.service",      "brook-shop-pricing-0.service",
      "brook-shop-pricing-1.service",      "brook-shop-order-0.service",
      "brook-shop-dead-letters-0.service", "brook-shop.target"};
  EXPECT_EQ(names, expected);
  const std::string& target = file(files, "brook-shop.target").text;
  for (const auto& n : expected) {
    if (n != "brook-shop.target") {
      EXPECT_NE(target.find("Wants=" + n + "\n"), std::string::npos) << n;
    }
  }
}

TEST(ExportSystemd, ExecStartIsWhatBrookUpRuns) {
  const Topology t = shop();
  ExportOptions o;
  o.directory_program = "/opt/brook/bin/brook-directory";
  o.overrides = {"product.params.catalog=x.csv"};
  const auto files = export_systemd(t, o);
  launch::NodeCommandOptions c;
  c.topology = t.file;
  c.overrides = o.overrides;
  std::string expected = t.node("product")->exec_path.string();
  for (const auto& a : launch::node_command_args(*t.node("product"), 1, c))
    expected += " " + a;
  EXPECT_EQ(line_of(file(files, "brook-shop-product-1.service").text, "ExecStart"), expected);
  EXPECT_EQ(line_of(file(files, "brook-shop-directory.service").text, "ExecStart"),
            "/opt/brook/bin/brook-directory --topology " + t.file.string() +
                " --log-level info --bind tcp://127.0.0.1:5670 --set product.params.catalog=x.csv");
}

TEST(ExportSystemd, RestartJobsAndTimeoutsFollowTheTopology) {
  ExportOptions o;
  o.directory_program = "/d";
  const auto files = export_systemd(small(), o);
  const std::string& ticker = file(files, "brook-small-one-ticker-0.service").text;
  EXPECT_EQ(line_of(ticker, "Restart"), "always");
  EXPECT_EQ(line_of(ticker, "RestartSec"), "100ms");
  EXPECT_EQ(line_of(ticker, "TimeoutStopSec"), "15s");  // drain_timeout 10 s + 5 s
  EXPECT_EQ(line_of(ticker, "Type"), "notify");
  EXPECT_EQ(line_of(ticker, "NotifyAccess"), "main");
  EXPECT_EQ(line_of(ticker, "WatchdogSec"), "50s");  // 10 heartbeats of 5 s
  EXPECT_EQ(line_of(ticker, "WorkingDirectory"), "/srv/small");
  // Quoted for systemd: " and \ escaped, % doubled; $ left alone in Environment=.
  EXPECT_EQ(line_of(ticker, "Environment"), "BROOK_LOG_FORMAT=plain");
  EXPECT_NE(ticker.find("\nEnvironment="
                        R"("GREETING=hello \"world\" 100%% $HOME")"
                        "\n"),
            std::string::npos)
      << ticker;
  EXPECT_NE(line_of(ticker, "ExecStart").find(R"( --rate "2 per s")"), std::string::npos);
  EXPECT_EQ(line_of(file(files, "brook-small-one-sink-0.service").text, "Restart"), "no");
  EXPECT_EQ(line_of(file(files, "brook-small-one-printer-2.service").text, "Restart"),
            "on-failure");
  const std::string& client = file(export_systemd(shop(), o), "brook-shop-client-0.service").text;
  EXPECT_EQ(line_of(client, "Restart"), "no");
  EXPECT_EQ(line_of(client, "Type"), "notify");
  EXPECT_EQ(line_of(client, "TimeoutStopSec"), "35s");
}

TEST(ExportSystemd, ConsumersStartFirstAndEveryNodeAfterTheDirectories) {
  ExportOptions o;
  o.directory_program = "/d";
  const auto files = export_systemd(small(), o);
  const std::string dirs =
      "brook-small-one-directory-0.service brook-small-one-directory-1.service";
  EXPECT_EQ(line_of(file(files, "brook-small-one-ticker-0.service").text, "After"),
            dirs +
                " brook-small-one-printer-0.service brook-small-one-printer-1.service "
                "brook-small-one-printer-2.service");
  EXPECT_EQ(line_of(file(files, "brook-small-one-printer-0.service").text, "Wants"),
            dirs + " brook-small-one-sink-0.service");
  EXPECT_EQ(line_of(file(files, "brook-small-one-sink-0.service").text, "After"), dirs);
}

// Three hosts: a runs a directory, source, sink and worker.0; b (bind 0.0.0.0) a directory named
// by host name and worker.1; c worker.2 alone.
Topology hosts() {
  Topology t = parse_topology(R"(
topology: split
hosts:
  a: 10.77.0.1
  b: {address: 10.77.0.2, bind: 0.0.0.0}
  c: 10.77.0.3
directory:
  endpoints: ['tcp://10.77.0.1:5670', 'tcp://b:5670']
channels: {work: {}, results: {}}
nodes:
  source: {exec: source, outputs: {out: work}, host: a}
  worker: {exec: worker, replicas: 3, inputs: {in: work}, outputs: {out: results}, host: [a, b, c]}
  sink: {exec: sink, inputs: {in: results}, host: a}
)",
                              "/srv/split/split.yaml");
  for (auto& n : t.nodes)
    n.exec_path = "/opt/brook/bin/" + n.name;
  t.file = "/srv/split/split.yaml";
  return t;
}

std::set<std::string> names_of(const std::vector<GeneratedFile>& files) {
  std::set<std::string> out;
  for (const auto& f : files)
    out.insert(f.name);
  return out;
}

TEST(ExportSystemd, AHostGetsItsInstancesAndDirectoriesWithItsAddresses) {
  ExportOptions o;
  o.directory_program = "/d";
  o.host = "a";
  const auto a = export_systemd(hosts(), o);
  EXPECT_EQ(names_of(a),
            (std::set<std::string>{"brook-split-directory-0.service",
                                   "brook-split-source-0.service", "brook-split-worker-0.service",
                                   "brook-split-sink-0.service", "brook-split.target"}));
  const std::string& source = file(a, "brook-split-source-0.service").text;
  EXPECT_EQ(line_of(source, "ExecStart"),
            "/opt/brook/bin/source --topology /srv/split/split.yaml --node source --instance 0 "
            "--log-level info --advertise 10.77.0.1");
  EXPECT_EQ(line_of(source, "After"),
            "brook-split-directory-0.service brook-split-worker-0.service");
  EXPECT_NE(source.find("# Not waited for: worker.1 on b, worker.2 on c."), std::string::npos)
      << source;
  EXPECT_EQ(line_of(file(a, "brook-split-directory-0.service").text, "ExecStart"),
            "/d --topology /srv/split/split.yaml --log-level info --bind tcp://10.77.0.1:5670");

  o.host = "b";
  const auto b = export_systemd(hosts(), o);
  EXPECT_EQ(names_of(b),
            (std::set<std::string>{"brook-split-directory-1.service",
                                   "brook-split-worker-1.service", "brook-split.target"}));
  // The endpoint names the host; the directory binds its address.
  EXPECT_EQ(line_of(file(b, "brook-split-directory-1.service").text, "ExecStart"),
            "/d --topology /srv/split/split.yaml --log-level info --bind tcp://10.77.0.2:5670");
  const std::string& worker = file(b, "brook-split-worker-1.service").text;
  EXPECT_NE(line_of(worker, "ExecStart").find(" --advertise 10.77.0.2 --bind 0.0.0.0"),
            std::string::npos);
  EXPECT_EQ(line_of(worker, "After"), "brook-split-directory-1.service");

  o.host = "c";
  const auto c = export_systemd(hosts(), o);
  EXPECT_EQ(names_of(c),
            (std::set<std::string>{"brook-split-worker-2.service", "brook-split.target"}));
  EXPECT_EQ(line_of(file(c, "brook-split-worker-2.service").text, "After"), "(none)");
}

TEST(ExportSystemd, HostsNeedOneHostAtATime) {
  ExportOptions o;
  o.directory_program = "/d";
  for (const auto& [host, advertise, expected] :
       std::vector<std::tuple<std::optional<std::string>, std::optional<std::string>, std::string>>{
           {std::nullopt, std::nullopt, "declares hosts (a, b, c)"},
           {"d", std::nullopt,
            "--host d: topology 'split' (/srv/split/split.yaml) has no host "
            "'d' (hint: one of a, b, c)"},
           {"a", "10.0.0.9", "--advertise: host 'a' advertises its address 10.77.0.1"}}) {
    o.host = host;
    o.advertise = advertise;
    try {
      (void)export_systemd(hosts(), o);
      ADD_FAILURE() << "no error for " << expected;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  }
}

TEST(ExportSystemd, UnknownHostIsAUsageErrorNamingTheFix) {
  ExportOptions o;
  o.host = "b";
  try {
    (void)export_systemd(small(), o);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--host b"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("hint:"), std::string::npos) << e.what();
  }
}

TEST(ExportSystemd, AProgramNotFoundIsNamed) {
  Topology t = small();
  t.nodes[1].exec_path.clear();
  ExportOptions o;
  EXPECT_THROW((void)export_systemd(t, o), Error);
}

// Every manifest, each document a map, keyed "Kind/name".
std::map<std::string, YAML::Node> manifests(const std::vector<GeneratedFile>& files) {
  std::map<std::string, YAML::Node> out;
  for (const auto& f : files) {
    for (const auto& doc : YAML::LoadAll(f.text)) {
      EXPECT_TRUE(doc.IsMap()) << f.name;
      out[doc["kind"].as<std::string>() + "/" + doc["metadata"]["name"].as<std::string>()] = doc;
    }
  }
  return out;
}

std::vector<std::string> strings(const YAML::Node& seq) {
  std::vector<std::string> out;
  for (const auto& v : seq)
    out.push_back(v.as<std::string>());
  return out;
}

bool has_pair(const std::vector<std::string>& args, const std::string& k, const std::string& v) {
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == k && args[i + 1] == v) return true;
  }
  return false;
}

TEST(ExportKubernetes, ReferencesEveryNodeReplicaCountAndChannel) {
  const Topology t = shop();
  ExportOptions o;
  o.image = "registry.example/brook:1";
  o.topology_text = shop_text();
  const auto m = manifests(export_kubernetes(t, o));
  EXPECT_EQ(m.at("ConfigMap/shop-topology")["data"]["topology.yaml"].as<std::string>(),
            o.topology_text);
  ASSERT_TRUE(m.count("StatefulSet/shop-directory"));
  ASSERT_TRUE(m.count("Service/shop-directory"));
  EXPECT_EQ(m.at("Service/shop-directory")["spec"]["clusterIP"].as<std::string>(), "None");
  std::set<std::string> channels;
  for (const auto& n : t.nodes) {
    const std::string name = "shop-" + n.name;
    const std::string kind = n.job ? "Job/" : "StatefulSet/";
    ASSERT_TRUE(m.count(kind + name)) << name;
    const YAML::Node& w = m.at(kind + name);
    EXPECT_EQ(w["metadata"]["labels"]["brook.io/node"].as<std::string>(), n.name);
    EXPECT_EQ(w["metadata"]["labels"]["brook.io/topology"].as<std::string>(), "shop");
    EXPECT_EQ(w["spec"][n.job ? "completions" : "replicas"].as<int>(), n.replicas) << name;
    for (const char* a : {"brook.io/inputs", "brook.io/outputs"}) {
      std::stringstream list(w["metadata"]["annotations"][a].as<std::string>());
      std::string item;
      while (std::getline(list, item, ','))
        channels.insert(item.substr(item.find('=') + 1));
    }
    const YAML::Node pod = w["spec"]["template"]["spec"];
    const YAML::Node c = pod["containers"][0];
    EXPECT_EQ(c["image"].as<std::string>(), o.image);
    EXPECT_EQ(pod["terminationGracePeriodSeconds"].as<int>(),
              static_cast<int>(n.drain_timeout.count() / 1000) + 5);
    const auto command = strings(c["command"]);
    ASSERT_EQ(command.size(), 4u);
    EXPECT_NE(command[2].find(std::filesystem::path(n.exec).filename().string()),
              std::string::npos);
    EXPECT_NE(command[2].find(n.job ? "$JOB_COMPLETION_INDEX" : "${HOSTNAME##*-}"),
              std::string::npos);
    const auto args = strings(c["args"]);
    EXPECT_TRUE(has_pair(args, "--node", n.name));
    EXPECT_TRUE(has_pair(args, "--advertise", "$(POD_IP)"));
    EXPECT_TRUE(has_pair(args, "--directory", "tcp://shop-directory:5670"));
    EXPECT_TRUE(has_pair(args, "--topology", "/etc/brook/topology.yaml"));
    EXPECT_TRUE(c["readinessProbe"]["exec"]["command"].IsSequence());
    EXPECT_TRUE(c["livenessProbe"]["exec"]["command"].IsSequence());
    EXPECT_EQ(c["resources"]["requests"]["cpu"].as<std::string>(), "100m");
  }
  std::set<std::string> all;
  for (const auto& ch : t.channels) {
    if (!t.consumers(ch.name).empty() || !t.producers(ch.name).empty()) all.insert(ch.name);
  }
  EXPECT_EQ(channels, all);
}

TEST(ExportKubernetes, TheDirectoryBindsThePodAddress) {
  ExportOptions o;
  const auto m = manifests(export_kubernetes(small(), o));
  const YAML::Node c =
      m.at("StatefulSet/small-one-directory-1")["spec"]["template"]["spec"]["containers"][0];
  EXPECT_TRUE(has_pair(strings(c["args"]), "--bind", "tcp://$(POD_IP):5671"));
  EXPECT_EQ(m.at("Service/small-one-directory-1")["spec"]["ports"][0]["port"].as<int>(), 5671);
  const auto printer = strings(
      m.at("StatefulSet/small-one-printer")["spec"]["template"]["spec"]["containers"][0]["args"]);
  EXPECT_TRUE(has_pair(printer, "--directory", "tcp://small-one-directory-0:5670"));
  EXPECT_TRUE(has_pair(printer, "--directory", "tcp://small-one-directory-1:5671"));
  const auto env =
      m.at("StatefulSet/small-one-ticker")["spec"]["template"]["spec"]["containers"][0]["env"];
  bool greeting = false;
  for (const auto& e : env)
    greeting |= e["name"].as<std::string>() == "GREETING" &&
                e["value"].as<std::string>() == R"(hello "world" 100% $HOME)";
  EXPECT_TRUE(greeting);
}

TEST(ExportCompose, AServicePerInstanceAndDirectoryConsumersFirst) {
  const Topology t = shop();
  ExportOptions o;
  o.topology_text = shop_text();
  const auto files = export_compose(t, o);
  EXPECT_EQ(file(files, "topology.yaml").text, o.topology_text);
  const YAML::Node c = YAML::Load(file(files, "compose.yaml").text);
  const YAML::Node services = c["services"];
  ASSERT_TRUE(services["directory"].IsMap());
  int instances = 0;
  for (const auto& n : t.nodes) {
    for (int i = 0; i < n.replicas; ++i, ++instances) {
      const std::string name = n.name + "-" + std::to_string(i);
      const YAML::Node s = services[name];
      ASSERT_TRUE(s.IsMap()) << name;
      const auto args = strings(s["command"]);
      EXPECT_TRUE(has_pair(args, "--advertise", name));
      EXPECT_TRUE(has_pair(args, "--bind", "0.0.0.0"));
      EXPECT_TRUE(has_pair(args, "--instance", std::to_string(i)));
      EXPECT_TRUE(has_pair(args, "--directory", "tcp://directory:5670"));
      EXPECT_EQ(s["depends_on"]["directory"]["condition"].as<std::string>(), "service_healthy");
      EXPECT_EQ(s["restart"].as<std::string>(), n.job ? "no" : "on-failure");
    }
  }
  EXPECT_EQ(services.size(), static_cast<std::size_t>(instances) + 1);
  // product writes resolved and rejections: pricing and order start before it.
  for (const char* c2 : {"pricing-0", "pricing-1", "order-0"})
    EXPECT_TRUE(services["product-1"]["depends_on"][c2].IsMap()) << c2;
  EXPECT_FALSE(services["order-0"]["depends_on"]["product-0"].IsDefined());
}

TEST(ExportCompose, DollarSignsSurviveComposeInterpolation) {
  ExportOptions o;
  const YAML::Node c = YAML::Load(file(export_compose(small(), o), "compose.yaml").text);
  EXPECT_EQ(c["services"]["ticker-0"]["environment"]["GREETING"].as<std::string>(),
            R"(hello "world" 100% $$HOME)");
  EXPECT_NE(strings(c["services"]["directory-1"]["entrypoint"])[2].find("$$(hostname -i"),
            std::string::npos);
}

}  // namespace
}  // namespace brook::exporting
