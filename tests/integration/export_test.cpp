// brook export as a user runs it: systemd units that systemd-analyze accepts (and a broken one
// it refuses, so the check can fail), usage errors with exit 2, and the Kubernetes probes run
// against the health file of a real node.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "support/command.hpp"
#include "support/notify_socket.hpp"
#include "support/process.hpp"

namespace brook::test {
namespace {

namespace fs = std::filesystem;

CommandResult brook(std::vector<std::string> args) {
  args.insert(args.begin(), bin("brook"));
  return run_command(args);
}

// systemd-analyze verify on `units`: its exit status and the lines naming one of them.
CommandResult verify(const std::vector<fs::path>& units) {
  std::vector<std::string> argv{"/usr/bin/systemd-analyze", "verify", "--man=no"};
  for (const auto& u : units)
    argv.push_back(u.string());
  return run_command(argv);
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

bool mentions_any(const std::string& text, const std::vector<fs::path>& units) {
  for (const auto& u : units) {
    if (text.find(u.filename().string()) != std::string::npos) return true;
  }
  return false;
}

TEST(Export, SystemdUnitsOfTheShopVerify) {
  if (!fs::exists("/usr/bin/systemd-analyze")) GTEST_SKIP() << "scripts/setup installs systemd";
  TempDir dir;
  const auto r = brook(
      {"export", "systemd", source_path("topologies/shop.yaml"), "-o", (dir / "units").string()});
  ASSERT_EQ(r.code, 0) << r.describe();
  EXPECT_EQ(r.out, "wrote 10 file(s) to " + (dir / "units").string() + "\n");
  const auto units = files_in(dir / "units");
  ASSERT_EQ(units.size(), 10u);
  const auto v = verify(units);
  EXPECT_EQ(v.code, 0) << v.describe();
  EXPECT_FALSE(mentions_any(v.out + v.err, units)) << v.describe();

  // The same check refuses a broken unit: a relative ExecStart and an unknown Restart= value.
  std::ifstream in(dir / "units" / "brook-shop-order-0.service");
  std::stringstream text;
  text << in.rdbuf();
  std::string broken = text.str();
  broken.replace(broken.find("ExecStart=/"), 11, "ExecStart=");
  broken.replace(broken.find("Restart=on-failure"), 18, "Restart=sometimes");
  const auto bad = dir.write("brook-shop-broken-0.service", broken);
  const auto v2 = verify({bad});
  EXPECT_NE(v2.code, 0) << v2.describe();
  EXPECT_TRUE(mentions_any(v2.out + v2.err, {bad})) << v2.describe();
}

TEST(Export, SystemdUnitsOfEachHostVerify) {
  if (!fs::exists("/usr/bin/systemd-analyze")) GTEST_SKIP() << "scripts/setup installs systemd";
  TempDir dir;
  const auto file = dir.write("split.yaml", R"(
topology: split
hosts:
  a: 10.77.0.1
  b: {address: 10.77.0.2, bind: 0.0.0.0}
  c: 10.77.0.3
directory:
  endpoints: ['tcp://10.77.0.1:5670', 'tcp://b:5670']
channels: {work: {}, results: {}}
nodes:
  source: {exec: brook-test-source, outputs: {out: work}, host: a}
  worker: {exec: brook-test-sink, replicas: 3, inputs: {in: work}, outputs: {out: results},
           host: [a, b, c]}
  sink: {exec: brook-test-sink, inputs: {in: results}, host: a}
)");
  std::vector<fs::path> all;
  for (const auto& [host, count] :
       std::vector<std::pair<std::string, std::size_t>>{{"a", 5}, {"b", 3}, {"c", 2}}) {
    const auto r =
        brook({"export", "systemd", file.string(), "--host", host, "-o", (dir / host).string()});
    ASSERT_EQ(r.code, 0) << r.describe();
    const auto units = files_in(dir / host);
    EXPECT_EQ(units.size(), count) << host;
    all.insert(all.end(), units.begin(), units.end());
    const auto v = verify(units);
    EXPECT_EQ(v.code, 0) << host << ": " << v.describe();
    EXPECT_FALSE(mentions_any(v.out + v.err, units)) << host << ": " << v.describe();
  }
  EXPECT_EQ(all.size(), 10u);
  const auto r = brook({"export", "systemd", file.string(), "-o", (dir / "all").string()});
  EXPECT_EQ(r.code, 2) << r.describe();
  EXPECT_NE(r.err.find("declares hosts (a, b, c)"), std::string::npos) << r.describe();
}

TEST(Export, UsageErrorsExit2NamingTheFix) {
  TempDir dir;
  const std::string shop = source_path("topologies/shop.yaml");
  const std::string out = (dir / "out").string();
  auto r = brook({"export", "helm", shop, "-o", out});
  EXPECT_EQ(r.code, 2) << r.describe();
  EXPECT_NE(r.err.find("unknown target 'helm' (hint: systemd, kubernetes or compose)"),
            std::string::npos)
      << r.describe();
  r = brook({"export", "systemd", shop});
  EXPECT_EQ(r.code, 2) << r.describe();
  EXPECT_NE(r.err.find("-o DIR is required"), std::string::npos) << r.describe();
  r = brook({"export", "systemd", shop, "--host", "nowhere", "-o", out});
  EXPECT_EQ(r.code, 2) << r.describe();
  EXPECT_NE(r.err.find("--host nowhere"), std::string::npos) << r.describe();
  dir.write("file", "not a directory");
  r = brook({"export", "compose", shop, "-o", (dir / "file" / "sub").string()});
  EXPECT_EQ(r.code, 2) << r.describe();
  EXPECT_NE(r.err.find("cannot create -o " + (dir / "file" / "sub").string()), std::string::npos)
      << r.describe();
  r = brook({"export", "kubernetes", (dir / "missing.yaml").string(), "-o", out});
  EXPECT_EQ(r.code, 2) << r.describe();
  EXPECT_FALSE(fs::exists(out));
}

// A unit's settings as systemd reads them: ExecStart= split into words ("..." quoting with
// backslash escapes, %% and $$ undone), Environment= assignments, After= unit names.
struct Unit {
  std::vector<std::string> exec;
  std::map<std::string, std::string> env;
  std::vector<std::string> after;
};

std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::string w;
  bool quoted = false, any = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '\\' && i + 1 < line.size()) {
      w += line[++i];
    } else if (c == '"') {
      quoted = !quoted;
      any = true;
    } else if (!quoted && c == ' ') {
      if (any || !w.empty()) out.push_back(w);
      w.clear();
      any = false;
    } else if ((c == '%' || c == '$') && i + 1 < line.size() && line[i + 1] == c) {
      w += line[++i];
    } else {
      w += c;
    }
  }
  if (any || !w.empty()) out.push_back(w);
  return out;
}

Unit read_unit(const fs::path& file) {
  Unit u;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("ExecStart=", 0) == 0) u.exec = words(line.substr(10));
    if (line.rfind("After=", 0) == 0) u.after = words(line.substr(6));
    if (line.rfind("Environment=", 0) == 0) {
      for (const auto& a : words(line.substr(12)))
        u.env[a.substr(0, a.find('='))] = a.substr(a.find('=') + 1);
    }
  }
  return u;
}

// The units of the minimal topology started as systemd would start them: each once the units it
// is After= said READY=1 on its own notify socket; stopped in the reverse order.
TEST(Export, SystemdUnitsStartTheTopologyInOrder) {
  TempDir dir;
  const std::string port = std::to_string(free_port());
  const auto r =
      run_command({bin("brook"), "export", "systemd", source_path("topologies/minimal.yaml"), "-o",
                   (dir / "units").string()},
                  std::chrono::seconds(60), {{"BROOK_DIRECTORY_PORT", port}});
  ASSERT_EQ(r.code, 0) << r.describe();
  std::map<std::string, Unit> units;
  for (const auto& f : files_in(dir / "units")) {
    if (f.extension() == ".service") units[f.filename().string()] = read_unit(f);
  }
  ASSERT_EQ(units.size(), 4u);  // the directory, ticker.0, printer.0, printer.1
  EXPECT_EQ(units.at("brook-minimal-ticker-0.service").after,
            (std::vector<std::string>{"brook-minimal-directory.service",
                                      "brook-minimal-printer-0.service",
                                      "brook-minimal-printer-1.service"}));
  std::vector<std::string> order;  // every unit after the ones it is After=
  while (order.size() < units.size()) {
    const auto before = order.size();
    for (const auto& [name, u] : units) {
      if (std::find(order.begin(), order.end(), name) != order.end()) continue;
      if (std::all_of(u.after.begin(), u.after.end(), [&](const std::string& a) {
            return std::find(order.begin(), order.end(), a) != order.end();
          }))
        order.push_back(name);
    }
    ASSERT_GT(order.size(), before) << "an ordering cycle";
  }
  std::map<std::string, std::unique_ptr<NotifySocket>> sockets;
  std::map<std::string, Process> procs;
  for (const auto& name : order) {
    const Unit& u = units.at(name);
    sockets[name] = std::make_unique<NotifySocket>((dir / (name + ".sock")).string());
    auto env = u.env;
    env["NOTIFY_SOCKET"] = sockets[name]->path();
    env["BROOK_DIRECTORY_PORT"] = port;
    Process::Options o{u.exec, env, dir / (name + ".log")};
    o.wait_ready = false;
    procs[name] = Process::start(std::move(o));
    ASSERT_NE(sockets[name]->wait_for("READY=1", 20s), "") << name << ": " << procs[name].log();
  }
  EXPECT_TRUE(wait_for(
      [&] {
        return procs.at("brook-minimal-printer-0.service").log().find("got example.Tick") !=
                   std::string::npos ||
               procs.at("brook-minimal-printer-1.service").log().find("got example.Tick") !=
                   std::string::npos;
      },
      10s));
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    procs.at(*it).signal(SIGTERM);
    EXPECT_NE(sockets.at(*it)->wait_for("STOPPING=1", 10s), "") << *it;
    EXPECT_EQ(procs.at(*it).wait(15s), 0) << *it << ": " << procs.at(*it).log();
  }
}

// The probes of the generated manifests, run by sh as the kubelet runs them, against the health
// file a real node keeps.
TEST(Export, KubernetesProbesReadARealNodesHealthFile) {
  TempDir dir;
  const auto r = brook(
      {"export", "kubernetes", source_path("topologies/shop.yaml"), "-o", (dir / "k8s").string()});
  ASSERT_EQ(r.code, 0) << r.describe();
  std::ifstream manifest(dir / "k8s" / "shop-order.yaml");
  const YAML::Node container =
      YAML::LoadAll(manifest)[1]["spec"]["template"]["spec"]["containers"][0];
  const std::string ready = container["readinessProbe"]["exec"]["command"][2].as<std::string>();
  const std::string live = container["livenessProbe"]["exec"]["command"][2].as<std::string>();
  const fs::path health = dir / "health";
  auto probe = [&](const std::string& check) {
    return run_command({"/bin/sh", "-c", check}, std::chrono::seconds(10),
                       {{"BROOK_HEALTH_FILE", health.string()}})
        .code;
  };
  EXPECT_EQ(probe(live), 0);  // not written yet: still starting, not dead
  EXPECT_NE(probe(ready), 0);

  Process directory = Process::start(
      {{bin("brook-directory"), "--bind", "tcp://127.0.0.1:*"}, {}, dir / "directory.log"});
  const auto file = dir.write("topology.yaml", R"(
topology: probes
directory: {endpoints: [')" + directory.ready_value("router") +
                                                   R"(']}
channels: {work: {external: true}, results: {external: true}}
nodes:
  sink: {exec: brook-test-sink, inputs: {in: work}, outputs: {out: results}}
)");
  Process node = Process::start(
      {{bin("brook-test-sink"), "--topology", file.string(), "--node", "sink", "--instance", "0"},
       {{"BROOK_HEALTH_FILE", health.string()}},
       dir / "sink.log"});
  ASSERT_TRUE(wait_for([&] { return probe(ready) == 0; }, 10s)) << node.log();
  EXPECT_EQ(probe(live), 0);
  node.signal(SIGSTOP);
  // A loop stopped for longer than the liveness bound (30 s): its last line, 31 s older.
  std::string state;
  long long at = 0;
  std::ifstream(health) >> state >> at;
  std::ofstream(health) << state << " " << at - 31 << "\n";
  EXPECT_NE(probe(live), 0);
  EXPECT_NE(probe(ready), 0);
  node.signal(SIGCONT);
  EXPECT_TRUE(wait_for([&] { return probe(live) == 0; }, 5s)) << node.log();
  EXPECT_EQ(node.stop(), 0) << node.log();
}

}  // namespace
}  // namespace brook::test
