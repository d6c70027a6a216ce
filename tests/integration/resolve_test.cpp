// brook resolve and the resolved documents brook up hands its nodes in $BROOK_RESOLVED: the same
// document for the same instance and options, and a directory that does not outlive brook up.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/command.hpp"
#include "support/process.hpp"
#include "support/up_fixture.hpp"

namespace brook::test {
namespace {

namespace fs = std::filesystem;

CommandResult brook(std::vector<std::string> args) {
  args.insert(args.begin(), bin("brook"));
  return run_command(args, 60s);
}

std::string read(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
  return text;
}

// A node in shell: copies $BROOK_RESOLVED to {DIR}/copy.<instance>.json and its path to
// {DIR}/path.<instance>. With FAIL_FIRST its first run fails (a restart gets the file too); with
// STAY it then waits for SIGTERM.
constexpr const char* kCopier = R"(#!/bin/sh
while [ $# -gt 0 ]; do
  case "$1" in --instance) instance=$2 ;; esac
  shift
done
if [ -n "$FAIL_FIRST" ] && [ ! -e "{DIR}/failed.$instance" ]; then
  : > "{DIR}/failed.$instance"
  exit 1
fi
cp "$BROOK_RESOLVED" "{DIR}/copy.$instance.json.tmp"
mv "{DIR}/copy.$instance.json.tmp" "{DIR}/copy.$instance.json"
printf '%s' "$BROOK_RESOLVED" > "{DIR}/path.$instance"
if [ -n "$STAY" ]; then
  trap 'kill $! 2>/dev/null; exit 0' TERM
  sleep 600 &
  wait
fi
)";

class Resolve : public UpTest {
 protected:
  void SetUp() override {
    const fs::path script =
        dir_.write("copier.sh", replace_all(kCopier, "{DIR}", dir_.path().string()));
    fs::permissions(script, fs::perms::owner_exec, fs::perm_options::add);
  }

  // {ENV}: the copier's env map.
  void write_topology(const std::string& env, bool job) {
    topology(replace_all(replace_all(R"(topology: resolved
directory: {endpoints: [{DIRECTORY}]}
channels:
  words: {external: true, hwm: 20}
nodes:
  copier:
    exec: ./copier.sh
    replicas: 2
    job: {JOB}
    inputs: {in: words}
    restart: {policy: on-failure, backoff: {initial: 10ms, max: 10ms}}
    env: {ENV}
    params:
      rate: ${BROOK_TEST_UNSET_RATE:-3}
      name: x
)",
                                     "{ENV}", env),
                         "{JOB}", job ? "true" : "false"));
  }

  std::string resolved(int instance, const std::vector<std::string>& extra) {
    std::vector<std::string> args{"resolve",    file_.string(),           "--node", "copier",
                                  "--instance", std::to_string(instance), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = brook(args);
    EXPECT_EQ(r.code, 0) << r.describe();
    return r.out;
  }
};

TEST_F(Resolve, UpHandsEachInstanceWhatResolvePrints) {
  write_topology("{}", true);
  const std::vector<std::string> options{"--set", "copier.params.name=y", "--advertise",
                                         "127.0.0.1"};
  Process up = this->up(options, false);
  const auto code = up.wait(60s);
  ASSERT_TRUE(code.has_value()) << up.log();
  EXPECT_EQ(*code, 0) << up.log();
  for (int i = 0; i < 2; ++i) {
    const std::string copy = read(dir_ / ("copy." + std::to_string(i) + ".json"));
    EXPECT_EQ(copy, resolved(i, options)) << up.log();
    EXPECT_NE(copy.find("\"name\":\"y\""), std::string::npos) << copy;
    EXPECT_NE(copy.find("\"rate\":3"), std::string::npos) << copy;
    const fs::path path = read(dir_ / ("path." + std::to_string(i)));
    EXPECT_TRUE(path.is_absolute()) << path;
    EXPECT_EQ(path.filename(), "copier." + std::to_string(i) + ".json");
    EXPECT_FALSE(fs::exists(path.parent_path())) << path << " outlived brook up";
  }
}

TEST_F(Resolve, RestartsGetTheDocumentAndStopRemovesIt) {
  write_topology("{FAIL_FIRST: 1, STAY: 1}", false);
  Process up = this->up({"--directory", endpoint_}, false);
  // With --directory brook up starts none: the nodes are told this one (nobody answers there,
  // which a shell node does not mind).
  ASSERT_TRUE(
      wait_for([&] { return fs::exists(dir_ / "path.0") && fs::exists(dir_ / "path.1"); }, 30s))
      << up.log();
  EXPECT_TRUE(fs::exists(dir_ / "failed.0"));  // the copy came from the restarted incarnation
  const std::string copy = read(dir_ / "copy.1.json");
  EXPECT_EQ(copy, resolved(1, {"--directory", endpoint_}));
  EXPECT_NE(copy.find("\"FAIL_FIRST\":\"1\""), std::string::npos) << copy;
  const fs::path dir = fs::path(read(dir_ / "path.0")).parent_path();
  EXPECT_EQ(fs::status(dir).permissions() & fs::perms::all, fs::perms::owner_all);
  up.signal(SIGINT);
  ASSERT_TRUE(up.wait(30s).has_value()) << up.log();
  EXPECT_FALSE(fs::exists(dir)) << dir << " outlived brook up";
}

TEST_F(Resolve, RefusesAnUnknownNode) {
  write_topology("{}", true);
  const auto r = brook({"resolve", file_.string(), "--node", "copyer"});
  EXPECT_EQ(r.code, 2) << r.describe();
  EXPECT_TRUE(r.out.empty()) << r.describe();
  EXPECT_NE(r.err.find("brook resolve: node 'copyer' is not in topology 'resolved' (" +
                       file_.string() + "; nodes: copier)"),
            std::string::npos)
      << r.describe();
}

TEST_F(Resolve, RefusesAnInstanceOutOfRange) {
  write_topology("{}", true);
  const auto r = brook({"resolve", file_.string(), "--node", "copier", "--instance", "2"});
  EXPECT_EQ(r.code, 2) << r.describe();
  EXPECT_NE(r.err.find("--instance 2 is out of range: node 'copier' has 2 replicas (instances "
                       "0..1; " +
                       file_.string() + ":6:3)"),
            std::string::npos)
      << r.describe();
}

TEST_F(Resolve, RefusesANegativeInstance) {
  write_topology("{}", true);
  const auto r = brook({"resolve", file_.string(), "--node", "copier", "--instance", "-1"});
  EXPECT_EQ(r.code, 2) << r.describe();
  EXPECT_NE(r.err.find("--instance expects a replica number (0, 1, ...), got '-1'"),
            std::string::npos)
      << r.describe();
}

TEST_F(Resolve, RefusesABadTopologyWithItsDiagnostics) {
  const fs::path file =
      dir_.write("bad.yaml", "topology: bad\nchannels: {c: {hwm: 0}}\nnodes: {}\n");
  const auto r = brook({"resolve", file.string(), "--node", "x", "--json"});
  EXPECT_EQ(r.code, 2) << r.describe();
  EXPECT_TRUE(r.out.empty()) << r.describe();
  EXPECT_NE(r.err.find(file.string() + ":2:"), std::string::npos) << r.describe();

  const auto missing = brook({"resolve", (dir_ / "none.yaml").string(), "--node", "x"});
  EXPECT_EQ(missing.code, 2) << missing.describe();
  EXPECT_NE(missing.err.find("none.yaml"), std::string::npos) << missing.describe();

  const auto no_node = brook({"resolve", file.string()});
  EXPECT_EQ(no_node.code, 2) << no_node.describe();
  EXPECT_NE(no_node.err.find("--node"), std::string::npos) << no_node.describe();
}

}  // namespace
}  // namespace brook::test
