// `hosts:` and each node's `host:` (docs/topology.md#hosts): where each instance runs, which
// directories each host runs, and the mistakes a multi-host file can hold.
#include <gtest/gtest.h>

#include <brook/topology.hpp>
#include <string>

namespace brook {
namespace {

Topology parse(const std::string& text, std::vector<std::string> overrides = {}) {
  LoadOptions o;
  o.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  o.resolve_execs = false;
  o.overrides = std::move(overrides);
  return parse_topology("topology: t\n" + text, "/srv/topo/t.yaml", o);
}

std::string errors(const std::string& text) {
  try {
    parse(text);
  } catch (const TopologyError& e) {
    std::string out;
    for (const auto& d : e.diagnostics())
      out += d.str() + "\n";
    return out;
  }
  return "(no error)";
}

constexpr const char* kThreeHosts =
    "hosts:\n"
    "  a: 10.77.0.1\n"
    "  b: {address: 10.77.0.2, bind: 0.0.0.0}\n"
    "  c: {address: node-c.example}\n"
    "directory: {endpoints: [tcp://10.77.0.1:5670, 'tcp://b:5671']}\n"
    "channels: {work: {}}\n"
    "nodes:\n"
    "  src: {exec: s, outputs: [work], host: a}\n"
    "  sink: {exec: k, inputs: [work], replicas: 3, host: [b, c, b]}\n";

TEST(TopologyHosts, EachInstanceRunsOnItsHost) {
  const Topology t = parse(kThreeHosts);
  ASSERT_EQ(t.hosts.size(), 3u);
  EXPECT_EQ(t.hosts[0].address, "10.77.0.1");
  EXPECT_EQ(t.hosts[0].bind_address(), "10.77.0.1");
  EXPECT_EQ(t.hosts[1].bind_address(), "0.0.0.0");
  EXPECT_EQ(t.host("c")->address, "node-c.example");
  EXPECT_EQ(t.host("d"), nullptr);
  const NodeSpec& src = *t.node("src");
  EXPECT_EQ(*src.host_of(0), "a");
  const NodeSpec& sink = *t.node("sink");
  EXPECT_EQ(*sink.host_of(0), "b");
  EXPECT_EQ(*sink.host_of(1), "c");
  EXPECT_EQ(*sink.host_of(2), "b");
  EXPECT_EQ(sink.host_of(3), nullptr);
}

TEST(TopologyHosts, AHostRunsTheDirectoriesAtItsAddressOrName) {
  const Topology t = parse(kThreeHosts);
  EXPECT_EQ(t.directory_endpoints_on(*t.host("a")),
            std::vector<std::string>{"tcp://10.77.0.1:5670"});
  EXPECT_EQ(t.directory_endpoints_on(*t.host("b")), std::vector<std::string>{"tcp://b:5671"});
  EXPECT_TRUE(t.directory_endpoints_on(*t.host("c")).empty());
}

TEST(TopologyHosts, HostsSharingAnAddressStartItsDirectoryOnce) {
  const Topology t = parse(
      "hosts: {a: 127.0.0.1, b: 127.0.0.1}\n"
      "directory: {endpoints: [tcp://127.0.0.1:5670]}\n"
      "channels: {work: {}}\n"
      "nodes:\n  src: {exec: s, outputs: [work], host: a}\n"
      "  sink: {exec: k, inputs: [work], host: b}\n");
  EXPECT_EQ(t.directory_endpoints_on(*t.host("a")).size(), 1u);
  EXPECT_TRUE(t.directory_endpoints_on(*t.host("b")).empty());
}

TEST(TopologyHosts, WithoutHostsNothingChanges) {
  const Topology t = parse(
      "channels: {work: {}}\nnodes:\n  src: {exec: s, outputs: [work]}\n"
      "  sink: {exec: k, inputs: [work]}\n");
  EXPECT_TRUE(t.hosts.empty());
  EXPECT_EQ(t.node("src")->host_of(0), nullptr);
}

TEST(TopologyHosts, AnOverrideMovesAHost) {
  const Topology t =
      parse(kThreeHosts, {"hosts.a=10.9.9.9", "hosts.b.address=10.9.9.8", "sink.host=c"});
  EXPECT_EQ(t.host("a")->address, "10.9.9.9");
  EXPECT_EQ(t.host("b")->address, "10.9.9.8");
  EXPECT_EQ(*t.node("sink")->host_of(2), "c");
}

TEST(TopologyHosts, MistakesNameTheLineAndTheFix) {
  const std::string nodes = "channels: {work: {}}\nnodes:\n";
  // An undeclared host, with the nearest declared one.
  const std::string unknown = errors("hosts: {alpha: 10.0.0.1}\n" + nodes +
                                     "  src: {exec: s, outputs: [work], host: alpa}\n"
                                     "  sink: {exec: k, inputs: [work], host: alpha}\n");
  EXPECT_NE(unknown.find("t.yaml:5:"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("undeclared host 'alpa'"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("did you mean 'alpha'"), std::string::npos) << unknown;
  // A node without a host once hosts are declared.
  const std::string missing = errors("hosts: {a: 10.0.0.1}\n" + nodes +
                                     "  src: {exec: s, outputs: [work], host: a}\n"
                                     "  sink: {exec: k, inputs: [work]}\n");
  EXPECT_NE(missing.find("t.yaml:6:"), std::string::npos) << missing;
  EXPECT_NE(missing.find("node 'sink' names no host"), std::string::npos) << missing;
  EXPECT_NE(missing.find("add host: <name> (hosts: a)"), std::string::npos) << missing;
  // host: without hosts:.
  EXPECT_NE(errors(nodes + "  src: {exec: s, outputs: [work], host: a}\n"
                           "  sink: {exec: k, inputs: [work]}\n")
                .find("declares no hosts:"),
            std::string::npos);
  // A list that does not match the replicas.
  const std::string count =
      errors("hosts: {a: 10.0.0.1, b: 10.0.0.2}\n" + nodes +
             "  src: {exec: s, outputs: [work], host: a}\n"
             "  sink: {exec: k, inputs: [work], replicas: 3, host: [a, b]}\n");
  EXPECT_NE(count.find("lists 2 hosts for 3 replica(s)"), std::string::npos) << count;
  // Addresses are addresses.
  EXPECT_NE(errors("hosts: {a: 'tcp://10.0.0.1:5670'}\n" + nodes +
                   "  src: {exec: s, outputs: [work], host: a}\n"
                   "  sink: {exec: k, inputs: [work], host: a}\n")
                .find("is not an address"),
            std::string::npos);
  EXPECT_NE(errors("hosts: {a: {bind: 0.0.0.0}}\n" + nodes +
                   "  src: {exec: s, outputs: [work], host: a}\n"
                   "  sink: {exec: k, inputs: [work], host: a}\n")
                .find("missing required key 'address' in host 'a'"),
            std::string::npos);
  EXPECT_NE(errors("hosts: [a, b]\n" + nodes +
                   "  src: {exec: s, outputs: [work]}\n"
                   "  sink: {exec: k, inputs: [work]}\n")
                .find("hosts"),
            std::string::npos);
}

TEST(TopologyHosts, ADirectoryOnNoHostIsAWarning) {
  const Topology t = parse(
      "hosts: {a: 10.0.0.1}\n"
      "directory: {endpoints: [tcp://10.0.0.1:5670, tcp://10.0.0.9:5670]}\n"
      "channels: {work: {}}\n"
      "nodes:\n  src: {exec: s, outputs: [work], host: a}\n"
      "  sink: {exec: k, inputs: [work], host: a}\n");
  ASSERT_EQ(t.warnings.size(), 1u);
  EXPECT_NE(t.warnings[0].message.find("tcp://10.0.0.9:5670 is on no declared host"),
            std::string::npos);
  EXPECT_NE(t.warnings[0].hint.find("directory.external: true"), std::string::npos);
}

}  // namespace
}  // namespace brook
