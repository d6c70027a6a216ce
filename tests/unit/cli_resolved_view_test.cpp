// The resolved document of a node instance (brook resolve, $BROOK_RESOLVED): every value as the
// runtime of that instance applies it.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <brook/error.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "resolved_view.hpp"
#include "support/process.hpp"

namespace brook::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kShop = R"(topology: shop
directory: {endpoints: [tcp://127.0.0.1:5999], ttl: 4s, heartbeat: 500ms}
state_dir: state
security: {mechanism: curve, keys: keys/shop, handshake_timeout: 3s}
channels:
  carts: {external: true, max_message_size: 64KiB, hwm: 50, max_pending: 70, on_full: drop,
          block_timeout: 2s, ack_timeout: 1s, window: 30, order_by: key,
          retry: {max_attempts: 3, initial: 200ms, max: 1s}, dead_letter: dead}
  dead: {}
  checkouts: {delivery: best-effort}
  orders: {}
  prices: {pattern: pubsub}
  quotes: {pattern: request, timeout: 250ms, idempotent: true}
  unrelated: {}
nodes:
  client: {exec: /bin/true, outputs: {out: carts, ask: quotes}}
  basket:
    exec: /bin/true
    replicas: 3
    job: true
    ready_timeout: 7s
    drain_timeout: 3s
    inputs: {in: carts, prices: prices}
    outputs:
      - {port: done, channel: orders, durable: true, fsync: always}
      - {port: ask, channel: quotes}
      - {port: fast, channel: checkouts}
    env: {MODE: fast, LEVEL: 3}
    params:
      rate: ${BROOK_TEST_RATE:-5}
      name: ${BROOK_TEST_UNSET_NAME:-basket}
      quoted: "42"
      ratio: 0.25
      tiny: 1e-3
      on: true
      off: False
      nothing: ~
      empty:
      big: 18446744073709551615
      huge: 99999999999999999999999
      hex: 0x1f
      inf: .inf
      text: hello world
      nested: {a: 1, b: [x, 2, 3.5, null]}
      list: [{sku: A}, {sku: B}]
  pricing: {exec: /bin/true, outputs: {out: prices}}
  quoter: {exec: /bin/true, replicas: 2, inputs: {in: quotes}}
  sink: {exec: /bin/true, inputs: {in: checkouts, orders: orders, dead: dead, other: unrelated}}
  writer: {exec: /bin/true, outputs: {out: unrelated}}
)";

class ResolvedView : public ::testing::Test {
 protected:
  void SetUp() override { file_ = dir_.write("shop.yaml", kShop); }

  json resolve(const std::string& node, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{"node", "--topology", file_.string(), "--node", node};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return resolve_instance(node_options(argv));
  }

  test::TempDir dir_;
  fs::path file_;
};

TEST_F(ResolvedView, HasEveryKeyOfSchemaVersionOne) {
  const json j = resolve("basket", {"--instance", "2"});
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items())
    keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"advertise",
                                            "bind",
                                            "channels",
                                            "directory",
                                            "drain_timeout_ms",
                                            "env",
                                            "file",
                                            "inputs",
                                            "instance",
                                            "instance_name",
                                            "job",
                                            "log_format",
                                            "node",
                                            "outputs",
                                            "params",
                                            "ready_timeout_ms",
                                            "replicas",
                                            "security",
                                            "state_dir",
                                            "topology",
                                            "version"}));
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["bind"], j["advertise"]);  // no --bind: inputs bind the advertised address
  EXPECT_EQ(j["topology"], "shop");
  EXPECT_EQ(j["file"], fs::canonical(file_).string());
  EXPECT_EQ(j["node"], "basket");
  EXPECT_EQ(j["instance"], 2);
  EXPECT_EQ(j["instance_name"], "basket.2");
  EXPECT_EQ(j["replicas"], 3);
  EXPECT_EQ(j["job"], true);
  EXPECT_EQ(j["ready_timeout_ms"], 7000);
  EXPECT_EQ(j["drain_timeout_ms"], 3000);
  EXPECT_EQ(j["env"], (json{{"MODE", "fast"}, {"LEVEL", "3"}}));
  EXPECT_EQ(j["directory"], (json{{"endpoints", {"tcp://127.0.0.1:5999"}},
                                  {"ttl_ms", 4000},
                                  {"heartbeat_ms", 500},
                                  {"external", false}}));
  EXPECT_EQ(j["inputs"],
            (json{{"in", {{"channel", "carts"}}}, {"prices", {{"channel", "prices"}}}}));
  EXPECT_EQ(j["outputs"],
            (json{{"done", {{"channel", "orders"}, {"durable", true}, {"fsync", "always"}}},
                  {"ask", {{"channel", "quotes"}, {"durable", false}, {"fsync", "batch"}}},
                  {"fast", {{"channel", "checkouts"}, {"durable", false}, {"fsync", "batch"}}}}));
  // The dump sorts keys: the form every brook --json output has.
  EXPECT_EQ(j.dump().find("{\"advertise\":"), 0U);
}

TEST_F(ResolvedView, ShowsChannelSettings) {
  const json ch = resolve("basket")["channels"];
  EXPECT_EQ(ch["carts"],
            (json{{"pattern", "pipeline"},
                  {"delivery", "at-least-once"},
                  {"max_message_size", 65536},
                  {"hwm", 50},
                  {"max_pending", 70},
                  {"on_full", "drop"},
                  {"block_timeout_ms", 2000},
                  {"ack_timeout_ms", 1000},
                  {"window", 30},
                  {"retry", {{"max_attempts", 3}, {"initial_ms", 200}, {"max_ms", 1000}}},
                  {"dead_letter", "dead"},
                  {"order_by", "key"},
                  {"timeout_ms", 5000},
                  {"idempotent", false},
                  {"external", true},
                  {"producers", {{{"node", "client"}, {"replicas", 1}}}},
                  {"consumers", {{{"node", "basket"}, {"replicas", 3}}}}}));
  EXPECT_EQ(ch["checkouts"]["delivery"], "best-effort");
  EXPECT_EQ(ch["checkouts"]["dead_letter"], nullptr);
  EXPECT_EQ(ch["checkouts"]["order_by"], nullptr);
  EXPECT_EQ(ch["prices"]["pattern"], "pubsub");
  EXPECT_EQ(ch["prices"]["delivery"], "best-effort");
  EXPECT_EQ(ch["quotes"]["pattern"], "request");
  EXPECT_EQ(ch["quotes"]["timeout_ms"], 250);
  EXPECT_EQ(ch["quotes"]["idempotent"], true);
  EXPECT_EQ(ch["quotes"]["producers"],
            (json{{{"node", "client"}, {"replicas", 1}}, {{"node", "basket"}, {"replicas", 3}}}));
  EXPECT_EQ(ch["quotes"]["consumers"], (json{{{"node", "quoter"}, {"replicas", 2}}}));
}

TEST_F(ResolvedView, IncludesTheDeadLetterChannelOfItsInputsOnly) {
  const json ch = resolve("basket")["channels"];
  std::vector<std::string> names;
  for (const auto& [k, v] : ch.items())
    names.push_back(k);
  EXPECT_EQ(names,
            (std::vector<std::string>{"carts", "checkouts", "dead", "orders", "prices", "quotes"}));
  // The basket writes dead letters itself: a writer of 'dead' with no output port on it.
  EXPECT_EQ(ch["dead"]["producers"], (json{{{"node", "basket"}, {"replicas", 3}}}));
  EXPECT_EQ(ch["dead"]["consumers"], (json{{{"node", "sink"}, {"replicas", 1}}}));
  EXPECT_FALSE(resolve("client")["channels"].contains("dead"));
}

TEST_F(ResolvedView, TypesParamsAsYamlCoreSchemaDoes) {
  ::unsetenv("BROOK_TEST_RATE");
  const json p = resolve("basket")["params"];
  EXPECT_EQ(p["rate"], 5);  // ${VAR:-default}, then typed
  EXPECT_TRUE(p["rate"].is_number_integer());
  EXPECT_EQ(p["name"], "basket");
  EXPECT_EQ(p["quoted"], "42");
  EXPECT_EQ(p["ratio"], 0.25);
  EXPECT_EQ(p["tiny"], 0.001);
  EXPECT_EQ(p["on"], true);
  EXPECT_EQ(p["off"], false);
  EXPECT_EQ(p["nothing"], nullptr);
  EXPECT_EQ(p["empty"], nullptr);
  EXPECT_EQ(p["big"], 18446744073709551615ULL);
  EXPECT_EQ(p["huge"], "99999999999999999999999");  // a double would change it
  EXPECT_EQ(p["hex"], 31);
  EXPECT_EQ(p["inf"], ".inf");
  EXPECT_EQ(p["text"], "hello world");
  EXPECT_EQ(p["nested"], (json{{"a", 1}, {"b", {"x", 2, 3.5, nullptr}}}));
  EXPECT_EQ(p["list"], (json{{{"sku", "A"}}, {{"sku", "B"}}}));
  EXPECT_EQ(resolve("client")["params"], json::object());
}

TEST_F(ResolvedView, SubstitutesTheEnvironment) {
  ::setenv("BROOK_TEST_RATE", "12.5", 1);
  const json p = resolve("basket")["params"];
  ::unsetenv("BROOK_TEST_RATE");
  EXPECT_EQ(p["rate"], 12.5);
}

TEST_F(ResolvedView, ReflectsOverridesAndCommandLine) {
  const json j =
      resolve("basket", {"--set", "basket.params.rate=9", "--set", "channels.carts.hwm=7", "--set",
                         "basket.replicas=4", "--instance", "3", "--directory",
                         "tcp://10.0.0.1:7000", "--advertise", "10.0.0.2"});
  EXPECT_EQ(j["params"]["rate"], 9);
  EXPECT_EQ(j["channels"]["carts"]["hwm"], 7);
  EXPECT_EQ(j["replicas"], 4);
  EXPECT_EQ(j["instance_name"], "basket.3");
  EXPECT_EQ(j["directory"]["endpoints"], (json{"tcp://10.0.0.1:7000"}));
  EXPECT_EQ(j["advertise"], "10.0.0.2");
}

TEST_F(ResolvedView, DefaultsAsTheNodeDoes) {
  const json j = resolve("client");
  EXPECT_EQ(j["advertise"], "127.0.0.1");  // NodeOptions' default
  EXPECT_EQ(j["ready_timeout_ms"], 5000);
  EXPECT_EQ(j["drain_timeout_ms"], 2000);
  EXPECT_EQ(j["job"], false);
  EXPECT_EQ(j["env"], json::object());
  EXPECT_EQ(j["inputs"], json::object());
}

TEST_F(ResolvedView, MakesPathsAbsolute) {
  const json j = resolve("client");
  // state_dir is relative to where the node runs; keys to the topology file.
  EXPECT_EQ(j["state_dir"], (fs::current_path() / "state").string());
  EXPECT_EQ(j["security"], (json{{"mechanism", "curve"},
                                 {"keys", (fs::canonical(dir_.path()) / "keys/shop").string()},
                                 {"handshake_timeout_ms", 3000}}));
}

TEST(ResolvedViewSecurity, NoneHasNoKeys) {
  test::TempDir dir;
  const fs::path file = dir.write("t.yaml", R"(topology: t
channels: {c: {}}
nodes:
  a: {exec: /bin/true, outputs: {out: c}}
  b: {exec: /bin/true, inputs: {in: c}}
)");
  const json j = resolve_instance(node_options({"b", "-t", file.string(), "-n", "b"}));
  EXPECT_EQ(j["security"],
            (json{{"mechanism", "none"}, {"keys", nullptr}, {"handshake_timeout_ms", 2000}}));
  EXPECT_EQ(j["state_dir"], (fs::current_path() / ".brook-state").string());
  EXPECT_EQ(j["directory"]["endpoints"], (json{"tcp://127.0.0.1:5670"}));
}

TEST_F(ResolvedView, NamesTheFileAndNodesForAnUnknownNode) {
  try {
    resolve("baskett");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "node 'baskett' is not in topology 'shop' (" + file_.string() +
                                         "; nodes: client, basket, pricing, quoter, sink, writer)");
  }
}

TEST_F(ResolvedView, RefusesAnInstanceOutOfRange) {
  try {
    resolve("basket", {"--instance", "3"});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("--instance 3 is out of range: node 'basket' has 3 replicas (instances "
                        "0..2; " +
                        file_.string() + ":"),
              std::string::npos)
        << what;
  }
  EXPECT_THROW(resolve("basket", {"--instance", "-1"}), Error);
}

}  // namespace
}  // namespace brook::cli
