// brook export as a user runs it: systemd units that systemd-analyze accepts (and a broken one
// it refuses, so the check can fail), usage errors with exit 2, and the Kubernetes probes run
// against the health file of a real node.
#include <gtest/gtest.h>
#include <signal.h>
#include <yaml-cpp/yaml.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/command.hpp"
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
