// Warnings that reason across hops (docs/topology.md, "Cross-hop warnings"): acknowledgement
// chains longer than an ack_timeout, order_by that cannot hold, pubsub feeding nodes that need
// every message. Each rule has a case that warns and one that must not.
#include <gtest/gtest.h>

#include <brook/topology.hpp>
#include <string>
#include <vector>

namespace brook {
namespace {

LoadOptions isolated() {
  LoadOptions o;
  o.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  o.resolve_execs = false;
  return o;
}

std::vector<std::string> warnings_of(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& w : parse_topology(text, "t.yaml", isolated()).warnings)
    out.push_back(w.str());
  return out;
}

// orders -> billing -> invoices -> mailer; `invoices` and `orders` settings vary.
std::string chain(const std::string& orders, const std::string& invoices,
                  const std::string& billing_out = "invoices") {
  return "topology: t\n"
         "channels:\n"
         "  orders: " +
         orders +
         "\n"
         "  invoices: " +
         invoices +
         "\n"
         "nodes:\n"
         "  shop: {exec: shop, outputs: [orders]}\n"
         "  billing: {exec: billing, replicas: 2, inputs: [orders], outputs: [" +
         billing_out +
         "]}\n"
         "  mailer: {exec: mailer, inputs: [invoices]}\n";
}

constexpr const char* kSlowRetry = "{retry: {max_attempts: 4, initial: 1s, max: 4s}}";  // 1+2+4 s

TEST(TopologyCrossHop, RetryScheduleLongerThanItsOwnAckTimeoutWarns) {
  const auto w = warnings_of(chain("{retry: {max_attempts: 4, initial: 1s, max: 4s}}", "{}"));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0],
            "t.yaml:3:3: warning: channel 'orders' (ack_timeout 5s): an acknowledgement can wait "
            "7s of retry backoff alone, before any handler time: its own retry schedule (7s); the "
            "producer re-sends meanwhile and another replica of node 'billing' handles it again "
            "(hint: raise ack_timeout of 'orders' to 9s, shorten the retry schedules)");
}

TEST(TopologyCrossHop, ChainedAcknowledgementAddsTheDownstreamRetrySchedule) {
  // 3 s here and 3 s downstream each fit 5 s, together they do not; 1.5 s + 3 s does.
  const std::string invoices = "{retry: {max_attempts: 3, initial: 1s, max: 2s}, ack_timeout: 10s}";
  const auto w = warnings_of(chain("{retry: {max_attempts: 3, initial: 1s, max: 2s}}", invoices));
  ASSERT_EQ(w.size(), 1u) << testing::PrintToString(w);
  EXPECT_NE(w[0].find("channel 'orders' (ack_timeout 5s): an acknowledgement can wait 6s of retry "
                      "backoff alone, before any handler time: its own retry schedule (3s), then "
                      "node 'billing' emits to 'invoices' (retry schedule 3s)"),
            std::string::npos)
      << w[0];
  EXPECT_TRUE(
      warnings_of(chain("{retry: {max_attempts: 3, initial: 500ms, max: 2s}}", invoices)).empty());
}

TEST(TopologyCrossHop, DownstreamRetryScheduleBeyondUpstreamAckTimeoutWarnsUpstream) {
  const auto w =
      warnings_of(chain("{}", std::string(kSlowRetry).replace(1, 0, "ack_timeout: 9s, ")));
  ASSERT_EQ(w.size(), 1u) << testing::PrintToString(w);
  EXPECT_EQ(w[0],
            "t.yaml:3:3: warning: channel 'orders' (ack_timeout 5s): an acknowledgement can wait "
            "7s of retry backoff alone, before any handler time: node 'billing' emits to "
            "'invoices' (retry schedule 7s); the producer re-sends meanwhile and another replica "
            "of node 'billing' handles it again (hint: raise ack_timeout of 'orders' to 9s, "
            "shorten the retry schedules, or make the output durable (a journal ends the chain))");
}

TEST(TopologyCrossHop, DurableOrBestEffortOutputsEndTheChain) {
  const std::string slow = std::string(kSlowRetry).replace(1, 0, "ack_timeout: 9s, ");
  EXPECT_TRUE(
      warnings_of(chain("{}", slow, "{port: invoices, channel: invoices, durable: true}")).empty());
  EXPECT_TRUE(warnings_of(chain("{}", "{delivery: best-effort}")).empty());
}

TEST(TopologyCrossHop, DeadLettersAreChainedAndCyclesEnd) {
  const auto w = warnings_of(
      "topology: t\n"
      "channels:\n"
      "  work: {dead_letter: dead, retry: {max_attempts: 2, initial: 2s, max: 2s}}\n"
      "  dead: {retry: {max_attempts: 3, initial: 2s, max: 2s}, ack_timeout: 1m}\n"
      "  loop: {}\n"
      "nodes:\n"
      "  a: {exec: a, outputs: [work]}\n"
      "  b: {exec: b, inputs: [work, loop], outputs: [loop]}\n"
      "  keeper: {exec: brook-dead-letters, inputs: [dead]}\n");
  ASSERT_EQ(w.size(), 1u) << testing::PrintToString(w);
  EXPECT_NE(w[0].find("channel 'work' (ack_timeout 5s): an acknowledgement can wait 6s of retry "
                      "backoff alone, before any handler time: its own retry schedule (2s), then "
                      "node 'b' dead-letters to 'dead' (retry schedule 4s); the producer re-sends "
                      "meanwhile and node 'b' ignores the re-send"),
            std::string::npos)
      << w[0];
}

TEST(TopologyCrossHop, OrderByWithRetriesWarns) {
  const std::string base =
      "topology: t\n"
      "channels:\n"
      "  keyed: {order_by: key, retry: {max_attempts: ATTEMPTS}}\n"
      "nodes:\n"
      "  a: {exec: a, outputs: [keyed]}\n"
      "  b: {exec: b, inputs: [keyed]}\n";
  auto with_attempts = [&](const std::string& n) {
    std::string s = base;
    return s.replace(s.find("ATTEMPTS"), 8, n);
  };
  EXPECT_EQ(warnings_of(with_attempts("3")),
            std::vector<std::string>{
                "t.yaml:3:3: warning: channel 'keyed' has order_by: key and retry max_attempts 3: "
                "while a message waits for its retry, later messages of its key overtake it "
                "(hint: use retry max_attempts: 1 where order matters more than retries, or drop "
                "order_by)"});
  EXPECT_TRUE(warnings_of(with_attempts("1")).empty());
}

TEST(TopologyCrossHop, OrderedOutputOfReplicasSharingAnUnorderedInputWarns) {
  const std::string base =
      "topology: t\n"
      "channels:\n"
      "  raw: {IN}\n"
      "  keyed: {order_by: key}\n"
      "nodes:\n"
      "  a: {exec: a, outputs: [raw]}\n"
      "  relay: {exec: r, replicas: 3, inputs: [raw], outputs: [keyed]}\n"
      "  b: {exec: b, inputs: [keyed]}\n";
  auto with_input = [&](const std::string& in) {
    std::string s = base;
    return s.replace(s.find("IN"), 2, in);
  };
  EXPECT_EQ(warnings_of(with_input("")),
            std::vector<std::string>{
                "t.yaml:7:58: warning: output 'keyed' of node 'relay' writes 'keyed' (order_by: "
                "key), but its 3 replicas share input 'raw' without order_by: a key's messages are "
                "emitted by different replicas, and order holds only per producer (hint: add "
                "order_by: key to 'raw' (emitting with the same key), or run one replica of "
                "'relay')"});
  EXPECT_TRUE(warnings_of(with_input("order_by: key")).empty());
}

TEST(TopologyCrossHop, PubsubFeedingANodeThatNeedsEveryMessageWarns) {
  const std::string base =
      "topology: t\n"
      "channels:\n"
      "  news: {pattern: pubsub}\n"
      "  out: {}\n"
      "nodes:\n"
      "  a: {exec: a, outputs: [news]}\n"
      "  b: {exec: b, inputs: [news], outputs: [{port: out, channel: out, DURABLE}]}\n"
      "  c: {exec: c, inputs: [out]}\n";
  auto with = [&](const std::string& durable) {
    std::string s = base;
    return s.replace(s.find("DURABLE"), 7, durable);
  };
  EXPECT_EQ(warnings_of(with("durable: true")),
            std::vector<std::string>{
                "t.yaml:7:25: warning: input 'news' of node 'b' reads pubsub channel 'news', but "
                "the node needs every message (its output 'out' is durable); a subscriber that is "
                "not connected misses messages (counted in gaps) (hint: give node 'b' its own "
                "pipeline channel (at-least-once) from the producers of 'news')"});
  EXPECT_TRUE(warnings_of(with("durable: false")).empty());
}

TEST(TopologyCrossHop, DeadLettersOnPubsubWarn) {
  const auto w = warnings_of(
      "topology: t\n"
      "channels:\n"
      "  work: {dead_letter: dead}\n"
      "  dead: {pattern: pubsub}\n"
      "nodes:\n"
      "  a: {exec: a, outputs: [work]}\n"
      "  b: {exec: b, inputs: [work]}\n"
      "  keeper: {exec: /opt/bin/brook-dead-letters, inputs: [dead]}\n");
  ASSERT_EQ(w.size(), 2u) << testing::PrintToString(w);
  EXPECT_NE(w[0].find("t.yaml:3:3: warning: channel 'work' sends dead letters to 'dead', which is "
                      "pubsub"),
            std::string::npos)
      << w[0];
  EXPECT_NE(w[1].find("input 'dead' of node 'keeper' reads pubsub channel 'dead', but the node "
                      "needs every message (it keeps a store (/opt/bin/brook-dead-letters))"),
            std::string::npos)
      << w[1];
}

}  // namespace
}  // namespace brook
