// The `security:` section of a topology file (docs/security.md) and the errors it gets.
#include <gtest/gtest.h>

#include <brook/topology.hpp>
#include <string>

namespace brook {
namespace {

constexpr const char* kNodes =
    "channels: {work: {}}\n"
    "nodes:\n  a: {exec: a, outputs: [work]}\n  b: {exec: b, inputs: [work]}\n";

Topology parse(const std::string& security, const std::string& nodes = kNodes) {
  LoadOptions o;
  o.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  return parse_topology("topology: t\n" + security + "\n" + nodes, "/srv/topo/t.yaml", o);
}

std::string errors(const std::string& security, const std::string& nodes = kNodes) {
  try {
    parse(security, nodes);
  } catch (const TopologyError& e) {
    std::string out;
    for (const auto& d : e.diagnostics())
      out += d.str() + "\n";
    return out;
  }
  return "(no error)";
}

TEST(TopologySecurity, OffByDefaultAndCurveWithKeysNextToTheFile) {
  EXPECT_EQ(parse("").security.mechanism, Mechanism::kNone);
  const Topology t = parse("security: curve");
  EXPECT_EQ(t.security.mechanism, Mechanism::kCurve);
  EXPECT_EQ(t.security.keys, "/srv/topo/keys");
  EXPECT_EQ(t.security.handshake_timeout, kDefaultHandshakeTimeout);
  const Topology m =
      parse("security: {mechanism: curve, keys: ../k/shop, handshake_timeout: 500ms}");
  EXPECT_EQ(m.security.keys, "/srv/k/shop");
  EXPECT_EQ(m.security.handshake_timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(parse("security: {mechanism: curve, keys: /etc/brook}").security.keys, "/etc/brook");
}

TEST(TopologySecurity, MistakesNameTheLineAndTheFix) {
  EXPECT_NE(errors("security: tls").find("t.yaml:2:"), std::string::npos);
  EXPECT_NE(errors("security: tls").find("none, curve"), std::string::npos);
  EXPECT_NE(errors("security: {keys: k}").find("missing required key 'mechanism'"),
            std::string::npos);
  EXPECT_NE(errors("security: {mechanism: curve, key: k}").find("unknown key 'key'"),
            std::string::npos);
  EXPECT_NE(
      errors("security: {mechanism: curve, handshake_timeout: 10ms}").find("between 100ms and 60s"),
      std::string::npos);
  EXPECT_NE(errors("security: {mechanism: curve, keys: ''}").find("must not be empty"),
            std::string::npos);
  const std::string reserved =
      "channels: {work: {}}\nnodes:\n  cli: {exec: a, outputs: [work]}\n  b: {exec: b, inputs: "
      "[work]}\n";
  EXPECT_NE(errors("security: curve", reserved).find("node name 'cli' is reserved"),
            std::string::npos);
  EXPECT_EQ(parse("", reserved).node("cli")->name, "cli") << "only reserved with security";
}

}  // namespace
}  // namespace brook
