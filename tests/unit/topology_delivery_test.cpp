// Topology keys of reliable delivery (docs/reliability.md): delivery modes, retries, dead
// letters, order_by and durable outputs, with the errors a wrong combination gets.
#include <gtest/gtest.h>

#include <brook/topology.hpp>
#include <string>
#include <vector>

namespace brook {
namespace {

using std::chrono::milliseconds;

LoadOptions isolated() {
  LoadOptions o;
  o.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  return o;
}

Topology parse(const std::string& text) {
  return parse_topology(text, "t.yaml", isolated());
}

std::vector<std::string> errors_in(const std::string& text) {
  try {
    parse(text);
  } catch (const TopologyError& e) {
    std::vector<std::string> out;
    for (const auto& d : e.diagnostics())
      out.push_back(d.str());
    return out;
  }
  ADD_FAILURE() << "parsed without errors:\n" << text;
  return {};
}

// `channel` settings and the producer's output item, around a producer and a consumer.
std::string with(const std::string& channel, const std::string& output = "work") {
  return "topology: t\n"
         "channels:\n"
         "  work: " +
         channel +
         "\n"
         "nodes:\n"
         "  a: {exec: a, outputs: [" +
         output +
         "]}\n"
         "  b: {exec: b, inputs: [work]}\n";
}

TEST(TopologyDelivery, PipelinesAreAtLeastOnceAndPubsubBestEffortByDefault) {
  const Topology t = parse(
      "topology: t\nchannels: {work: {}, news: {pattern: pubsub}}\n"
      "nodes:\n  a: {exec: a, outputs: [work, news]}\n  b: {exec: b, inputs: [work, news]}\n");
  EXPECT_EQ(t.channel("work")->delivery, Delivery::kAtLeastOnce);
  EXPECT_TRUE(t.channel("work")->reliable());
  EXPECT_EQ(t.channel("news")->delivery, Delivery::kBestEffort);
  EXPECT_EQ(t.channel("work")->ack_timeout, milliseconds(5000));
  EXPECT_EQ(t.channel("work")->window, 10000u);
  EXPECT_EQ(t.channel("work")->retry.max_attempts, 1);
  EXPECT_FALSE(t.channel("work")->order_by_key);
  EXPECT_EQ(t.state_dir, ".brook-state");
  EXPECT_FALSE(t.node("a")->outputs[0].durable);
}

TEST(TopologyDelivery, ReadsEveryDeliveryKey) {
  const Topology t = parse(
      "topology: t\nstate_dir: /var/lib/shop\n"
      "channels:\n"
      "  work: {ack_timeout: 2s, window: 500, order_by: key, dead_letter: dead,\n"
      "         retry: {max_attempts: 4, initial: 50ms, max: 1s}}\n"
      "  dead: {}\n"
      "nodes:\n"
      "  a: {exec: a, outputs: [{channel: work, durable: true, fsync: always}]}\n"
      "  b: {exec: b, inputs: [work]}\n"
      "  keeper: {exec: k, inputs: [dead]}\n");
  const ChannelSpec& c = *t.channel("work");
  EXPECT_EQ(c.ack_timeout, milliseconds(2000));
  EXPECT_EQ(c.window, 500u);
  EXPECT_TRUE(c.order_by_key);
  EXPECT_EQ(c.dead_letter, "dead");
  EXPECT_EQ(c.retry.max_attempts, 4);
  EXPECT_EQ(c.retry.initial, milliseconds(50));
  EXPECT_EQ(c.retry.max, milliseconds(1000));
  EXPECT_EQ(t.state_dir, "/var/lib/shop");
  const PortSpec& out = t.node("a")->outputs.at(0);
  EXPECT_TRUE(out.durable);
  EXPECT_EQ(out.fsync, FsyncPolicy::kAlways);
}

TEST(TopologyDelivery, DurableDefaultsToBatchFsync) {
  const Topology t = parse(with("{}", "{channel: work, durable: true}"));
  EXPECT_TRUE(t.node("a")->outputs.at(0).durable);
  EXPECT_EQ(t.node("a")->outputs.at(0).fsync, FsyncPolicy::kBatch);
}

TEST(TopologyDelivery, DurableNeedsAnAtLeastOncePipelineThatDoesNotDrop) {
  EXPECT_EQ(errors_in(with("{delivery: best-effort}", "{channel: work, durable: true}")),
            std::vector<std::string>{
                "t.yaml:5:51: error: output 'work' of node 'a' is durable but channel 'work' is "
                "not an at-least-once pipeline channel (hint: a journal is kept until consumers "
                "acknowledge; use pattern: pipeline with delivery: at-least-once (the default), "
                "or remove durable)"});
  EXPECT_EQ(errors_in(with("{on_full: drop}", "{channel: work, durable: true}")),
            std::vector<std::string>{
                "t.yaml:5:51: error: output 'work' of node 'a' is durable but channel 'work' has "
                "on_full: drop (hint: a journal keeps what emit accepted; use on_full: block or "
                "fail)"});
}

TEST(TopologyDelivery, FsyncWithoutDurableAndBadValuesAreErrors) {
  EXPECT_EQ(errors_in(with("{}", "{channel: work, fsync: never}")),
            std::vector<std::string>{
                "t.yaml:5:49: error: fsync is a setting of durable outputs; output 'work' of node "
                "'a' is not durable (hint: add durable: true, or remove fsync)"});
  const auto bad = errors_in(with("{}", "{channel: work, durable: yes, fsync: sometimes}"));
  ASSERT_EQ(bad.size(), 3u);  // and: fsync on an output that is not durable
  EXPECT_NE(bad[0].find("durable"), std::string::npos) << bad[0];
  EXPECT_NE(bad[1].find("sometimes"), std::string::npos) << bad[1];
  EXPECT_NE(bad[1].find("always, batch, never"), std::string::npos) << bad[1];
}

TEST(TopologyDelivery, DurableIsNotAnInputKey) {
  const auto errors = errors_in(
      "topology: t\nchannels: {work: {}}\nnodes:\n  a: {exec: a, outputs: [work]}\n"
      "  b: {exec: b, inputs: [{channel: work, durable: true}]}\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("unknown key 'durable'"), std::string::npos) << errors[0];
}

TEST(TopologyDelivery, WrongCombinationsOfChannelKeysAreErrors) {
  auto first = [](const std::vector<std::string>& e) { return e.empty() ? "" : e[0]; };
  EXPECT_NE(first(errors_in(with("{pattern: pubsub, delivery: at-least-once}")))
                .find("delivery at-least-once is for pipeline channels"),
            std::string::npos);
  EXPECT_NE(first(errors_in(with("{delivery: best-effort, order_by: key}")))
                .find("order_by needs an at-least-once pipeline channel"),
            std::string::npos);
  EXPECT_NE(first(errors_in(with("{order_by: name}"))).find("the only value is 'key'"),
            std::string::npos);
  EXPECT_NE(first(errors_in(with("{ack_timeout: 5ms}"))).find("at least 10ms"), std::string::npos);
  EXPECT_NE(first(errors_in(with("{retry: {initial: 2s, max: 1s}}")))
                .find("retry.initial must not exceed retry.max"),
            std::string::npos);
  EXPECT_NE(first(errors_in(with("{dead_letter: nowhere}")))
                .find("dead_letter 'nowhere' is not another channel"),
            std::string::npos);
  EXPECT_NE(first(errors_in("topology: t\nstate_dir: ''\nchannels: {work: {}}\nnodes:\n"
                            "  a: {exec: a, outputs: [work]}\n  b: {exec: b, inputs: [work]}\n"))
                .find("state_dir must not be empty"),
            std::string::npos);
}

}  // namespace
}  // namespace brook
