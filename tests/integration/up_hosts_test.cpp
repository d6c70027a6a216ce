// `brook up --host`: each host of a topology with hosts: runs its own instances and directories,
// advertising its address; the hosts here are two loopback addresses of one machine (the
// network-namespace shop is in multi_host_test.cpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "support/cluster.hpp"
#include "support/command.hpp"
#include "support/process.hpp"
#include "support/up_fixture.hpp"

namespace brook::test {
namespace {

namespace fs = std::filesystem;

class UpHosts : public UpTest {
 protected:
  Process up_host(const std::string& host, bool wait_ready = true) {
    return up({"--host", host}, wait_ready);
  }

  nlohmann::json ls_at(const std::string& endpoint) {
    const auto r = run_command({bin("brook"), "ls", "--json", "--directory", endpoint}, 10s);
    if (r.code != 0) return nlohmann::json::object();
    return nlohmann::json::parse(r.out);
  }

  // instance name -> the endpoints it registered.
  std::map<std::string, std::set<std::string>> endpoints_at(const std::string& directory) {
    std::map<std::string, std::set<std::string>> out;
    const nlohmann::json l = ls_at(directory);
    if (!l.contains("instances")) return out;
    for (const auto& i : l["instances"]) {
      for (const auto& r : i["registrations"])
        out[i["name"].get<std::string>()].insert(r["endpoint"].get<std::string>());
    }
    return out;
  }
};

TEST_F(UpHosts, EachHostRunsItsInstancesAndDirectoriesAtItsAddress) {
  const std::string a_dir = "tcp://127.0.0.1:" + std::to_string(free_port());
  const std::string b_dir = "tcp://127.0.0.2:" + std::to_string(free_port());
  topology(R"(
topology: up-hosts
hosts:
  a: 127.0.0.1
  b: {address: 127.0.0.2, bind: 0.0.0.0}
directory: {endpoints: [')" +
           a_dir + "', '" + b_dir + R"('], heartbeat: 200ms, ttl: 1s}
channels: {work: {}}
nodes:
  source: {exec: brook-test-source, host: a, job: true, restart: never, outputs: {out: work},
           params: {count: 3000, rate: 3000}}
  sink: {exec: brook-test-sink, replicas: 3, host: [a, b, b], inputs: {in: work},
         params: {report: '{DIR}/sink{instance}.txt'}}
)");
  // b first: its sinks register with its directory (a's is not up yet) and are ready.
  Process b = up_host("b");
  Process a = up_host("a");
  const auto code = a.wait(60s);
  ASSERT_TRUE(code.has_value()) << a.log();
  EXPECT_EQ(*code, 0) << a.log() << "\n--- host b:\n" << b.log();

  // b's directory (it outlived a's launch) lists its sinks at b's address, bound on 0.0.0.0.
  const auto registered = endpoints_at(b_dir);
  for (const char* name : {"sink.1", "sink.2"}) {
    ASSERT_TRUE(registered.count(name)) << name << " not registered at " << b_dir;
    for (const auto& ep : registered.at(name))
      EXPECT_TRUE(ep.starts_with("tcp://127.0.0.2:")) << name << " registered " << ep;
  }
  EXPECT_FALSE(registered.count("sink.0")) << "sink.0 runs on a, whose launch ended";
  // Each launch started its own directory and only its own instances.
  EXPECT_NE(a.log().find("host a"), std::string::npos) << a.log();
  EXPECT_NE(a.log().find("directory |"), std::string::npos) << a.log();
  EXPECT_EQ(a.log().find("sink.1"), std::string::npos) << a.log();
  EXPECT_NE(b.log().find("sink.2"), std::string::npos) << b.log();
  EXPECT_EQ(b.log().find("source.0"), std::string::npos) << b.log();
  // Sinks write their reports when they stop.
  EXPECT_EQ(b.stop(10s), 0) << b.log();
  // Every message once, and host b's sinks took their share.
  std::set<std::uint64_t> seen;
  std::uint64_t duplicates = 0;
  for (int i = 0; i < 3; ++i) {
    const auto report = read_report(dir_ / ("sink" + std::to_string(i) + ".txt"));
    if (i > 0) {
      EXPECT_FALSE(report.messages.empty()) << "sink." << i << " on host b got nothing";
    }
    for (const auto& m : report.messages)
      duplicates += seen.insert(m.n).second ? 0 : 1;
  }
  EXPECT_EQ(seen.size(), 3000u) << a.log() << "\n--- host b:\n" << b.log();
  EXPECT_EQ(duplicates, 0u);
}

TEST_F(UpHosts, AHostNeedsNamingAndTakesItsAddressFromTheTopology) {
  topology(R"(
topology: up-hosts-usage
hosts: {a: 127.0.0.1, b: 127.0.0.2}
directory: {endpoints: ['{DIRECTORY}']}
channels: {work: {}}
nodes:
  source: {exec: brook-test-source, host: a, outputs: {out: work}}
  sink: {exec: brook-test-sink, host: b, inputs: {in: work}}
)");
  auto brook_up = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv{bin("brook"), "up", file_.string(), "--quiet"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_command(argv, 20s);
  };
  const auto none = brook_up({});
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.err.find("declares hosts (a, b): pass --host NAME"), std::string::npos)
      << none.err;
  const auto unknown = brook_up({"--host", "c"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("no host 'c' in topology 'up-hosts-usage' (hosts: a, b)"),
            std::string::npos)
      << unknown.err;
  const auto clash = brook_up({"--host", "a", "--advertise", "10.0.0.1"});
  EXPECT_EQ(clash.code, 2);
  EXPECT_NE(clash.err.find("drop --advertise"), std::string::npos) << clash.err;
}

TEST_F(UpHosts, EveryListedDirectoryRunsWhenThereAreNoHosts) {
  const std::string second = "tcp://127.0.0.1:" + std::to_string(free_port());
  topology(R"(
topology: up-two-directories
directory: {endpoints: ['{DIRECTORY}', ')" +
           second + R"('], heartbeat: 200ms, ttl: 1s}
channels: {work: {external: true}}
nodes:
  sink: {exec: brook-test-sink, replicas: 2, inputs: {in: work}}
)");
  Process p = up();
  // Both directories run and both list both sinks: each node registers with each.
  for (const std::string& ep : {endpoint_, second}) {
    const auto at = endpoints_at(ep);
    EXPECT_TRUE(at.count("sink.0") && at.count("sink.1")) << ep << "\n" << p.log();
  }
  EXPECT_NE(p.log().find("directory.0 |"), std::string::npos) << p.log();
  EXPECT_NE(p.log().find("directory.1 |"), std::string::npos) << p.log();
  EXPECT_EQ(p.stop(10s), 0) << p.log();
}

}  // namespace
}  // namespace brook::test
