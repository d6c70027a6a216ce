// The shop topologies load, validate and wire the services as docs/shop.md describes.
#include <gtest/gtest.h>

#include <brook/topology.hpp>
#include <string>

namespace brook {
namespace {

Topology load(const std::string& name) {
  LoadOptions o;
  o.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  o.exec_search_path = {BROOK_BIN_DIR};
  return load_topology(std::string(BROOK_SOURCE_DIR) + "/topologies/" + name, o);
}

std::string channel_of(const std::vector<PortSpec>& ports, const std::string& port) {
  for (const auto& p : ports) {
    if (p.port == port) return p.channel;
  }
  return "<none>";
}

void expect_shop_wiring(const Topology& t) {
  EXPECT_EQ(t.directory.endpoints, std::vector<std::string>{"tcp://127.0.0.1:5670"});
  EXPECT_EQ(t.directory.heartbeat, std::chrono::milliseconds(500));
  EXPECT_EQ(t.directory.ttl, std::chrono::milliseconds(2000));
  EXPECT_EQ(t.channel("quotes")->pattern, Pattern::kPipeline);
  EXPECT_TRUE(t.channel("quotes")->reliable()) << "every quote must reach the order store";
  for (const char* ch : {"cart", "checkouts", "resolved", "rejections"}) {
    ASSERT_NE(t.channel(ch), nullptr) << ch;
    EXPECT_EQ(t.channel(ch)->pattern, Pattern::kPipeline) << ch;
  }
  const NodeSpec* client = t.node("client");
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->job);
  EXPECT_EQ(client->restart.policy, RestartPolicy::kNever);
  EXPECT_EQ(channel_of(client->outputs, "out"), "cart");
  EXPECT_EQ(client->params.get<std::string>("manifest"), "shop-manifest.jsonl");
  EXPECT_EQ(client->params.get<std::string>("catalog"), "data/catalog.csv");
  EXPECT_EQ(channel_of(t.node("basket")->inputs, "in"), "cart");
  EXPECT_EQ(channel_of(t.node("basket")->outputs, "out"), "checkouts");
  EXPECT_EQ(t.node("basket")->replicas, 1);
  EXPECT_EQ(channel_of(t.node("product")->outputs, "rejected"), "rejections");
  EXPECT_EQ(channel_of(t.node("pricing")->outputs, "out"), "quotes");
  const NodeSpec* order = t.node("order");
  EXPECT_EQ(channel_of(order->inputs, "baskets"), "resolved");
  EXPECT_EQ(channel_of(order->inputs, "quotes"), "quotes");
  EXPECT_EQ(channel_of(order->inputs, "rejections"), "rejections");
  EXPECT_EQ(order->params.get<std::string>("db"), "shop.db");
  for (const NodeSpec& n : t.nodes) {
    if (n.name != "client") {
      EXPECT_EQ(n.restart.policy, RestartPolicy::kOnFailure) << n.name;
    }
  }
}

TEST(ShopTopology, Shop) {
  const Topology t = load("shop.yaml");
  expect_shop_wiring(t);
  EXPECT_EQ(t.node("product")->replicas, 2);
  EXPECT_EQ(t.node("pricing")->replicas, 2);
  // The order store's failed inserts are retried, then kept by dead-letters (docs/shop.md).
  EXPECT_EQ(t.nodes.size(), 6u);
  for (const char* channel : {"resolved", "quotes", "rejections"}) {
    EXPECT_EQ(t.channel(channel)->dead_letter, "orders-dead") << channel;
    EXPECT_EQ(t.channel(channel)->retry.max_attempts, 5) << channel;
  }
  EXPECT_EQ(channel_of(t.node("dead-letters")->inputs, "in"), "orders-dead");
  for (const auto& w : t.warnings)
    ADD_FAILURE() << w.str();
}

TEST(ShopTopology, Scaled) {
  const Topology t = load("shop-scaled.yaml");
  expect_shop_wiring(t);
  EXPECT_EQ(t.node("product")->replicas, 4);
  EXPECT_EQ(t.node("pricing")->replicas, 3);
  EXPECT_EQ(t.channel("price-updates")->pattern, Pattern::kPubsub);
  EXPECT_EQ(channel_of(t.node("catalog")->outputs, "out"), "price-updates");
  EXPECT_EQ(channel_of(t.node("product")->inputs, "updates"), "price-updates");
  // The same retries and dead letters as shop.yaml.
  for (const char* channel : {"resolved", "quotes", "rejections"}) {
    EXPECT_EQ(t.channel(channel)->dead_letter, "orders-dead") << channel;
    EXPECT_EQ(t.channel(channel)->retry.max_attempts, 5) << channel;
  }
  EXPECT_EQ(channel_of(t.node("dead-letters")->inputs, "in"), "orders-dead");
  for (const auto& w : t.warnings)
    ADD_FAILURE() << w.str();
}

TEST(ShopTopology, EnvironmentScriptsIt) {
  LoadOptions o;
  o.env = [](const std::string& n) -> std::optional<std::string> {
    if (n == "BROOK_DIRECTORY_PORT") return "5790";
    if (n == "SHOP_DB") return "/tmp/x.db";
    return std::nullopt;
  };
  const Topology t = load_topology(std::string(BROOK_SOURCE_DIR) + "/topologies/shop.yaml", o);
  EXPECT_EQ(t.directory.endpoints, std::vector<std::string>{"tcp://127.0.0.1:5790"});
  EXPECT_EQ(t.node("order")->params.get<std::string>("db"), "/tmp/x.db");
}

}  // namespace
}  // namespace brook
