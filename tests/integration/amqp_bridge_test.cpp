// The RabbitMQ bridges against a real rabbitmq-server on loopback (tests/support/rabbitmq.sh):
// brook-amqp-in delivers every message of a queue into brook, brook-amqp-out every message of a
// brook channel into an exchange, each across a broker crash (SIGKILL) and restart: nothing lost.
// Skipped only where rabbitmq-server is not installed.
#include <gtest/gtest.h>
#include <sys/time.h>

#include <map>
#include <set>

#include "amqp_client.hpp"
#include "support/cluster.hpp"
#include "support/rabbitmq_server.hpp"

namespace brook::test {
namespace {

using namespace std::chrono_literals;
#define SKIP_WITHOUT_RABBITMQ()                                                          \
  if (!RabbitMq::installed())                                                            \
  GTEST_SKIP() << "rabbitmq-server is not installed (apt-get install rabbitmq-server): " \
                  "the AMQP bridge tests need a real broker"

std::string yaml_with(std::string yaml, const std::string& url) {
  for (auto pos = yaml.find("{URL}"); pos != std::string::npos; pos = yaml.find("{URL}", pos))
    yaml.replace(pos, 5, url);
  return yaml;
}

struct Tally {
  std::uint64_t distinct = 0, lost = 0, duplicated = 0;
};

Tally tally(const std::multiset<std::uint64_t>& got, std::uint64_t n) {
  Tally t;
  for (std::uint64_t i = 1; i <= n; ++i) {
    const auto times = got.count(i);
    if (times == 0) ++t.lost;
    if (times > 0) ++t.distinct;
    if (times > 1) t.duplicated += times - 1;
  }
  return t;
}

TEST(AmqpBridge, InDeliversEveryQueuedMessageAcrossABrokerCrash) {
  SKIP_WITHOUT_RABBITMQ();
  constexpr std::uint64_t kCount = 6000;
  RabbitMq mq;
  Client(mq.url()).declare_queue("in-q");
  Client(mq.url()).publish("in-q", kCount);
  Cluster c;
  c.start_directory();
  c.write_topology(yaml_with(R"(
topology: amqp-in
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms, ttl: 1s}
channels:
  work: {ack_timeout: 2s}
nodes:
  bridge: {exec: brook-amqp-in, outputs: {out: work},
           params: {url: '{URL}', queue: in-q, prefetch: 100, reconnect_max: 500ms}}
  sink: {exec: brook-test-sink, inputs: {in: work},
         params: {journal: "{DIR}/journal.txt", delay_us: 300}}
)",
                             mq.url()));
  auto sink = c.start_node("brook-test-sink", "sink");
  auto bridge = c.start_node("brook-amqp-in", "bridge");
  auto received = [&] { return c.counter("sink", "work", &ChannelCounters::received); };
  ASSERT_TRUE(wait_for([&] { return received() >= kCount / 3; }, 30s)) << bridge.log();
  mq.kill();
  const std::uint64_t at_kill = received();
  // Until the crash every delivery arrived once (redeliveries come only from the crash).
  std::multiset<std::uint64_t> before;
  for (const Received& m : read_report(c.dir() / "journal.txt").messages)
    before.insert(m.n);
  EXPECT_EQ(tally(before, kCount).duplicated, 0u);
  mq.start();
  std::multiset<std::uint64_t> got;
  const bool all = wait_for(
      [&] {
        got.clear();
        for (const Received& m : read_report(c.dir() / "journal.txt").messages)
          got.insert(m.n);
        return tally(got, kCount).lost == 0;
      },
      40s);
  EXPECT_EQ(bridge.stop(), 0) << bridge.log();
  EXPECT_EQ(sink.stop(), 0) << sink.log();
  const Tally t = tally(got, kCount);
  std::cout << "amqp-in: " << kCount << " queued, broker SIGKILLed after " << at_kill
            << " and restarted: " << t.distinct << " distinct received, lost " << t.lost
            << ", duplicated " << t.duplicated << " (redelivered after the crash)\n";
  EXPECT_TRUE(all) << bridge.log() << sink.log();
  EXPECT_EQ(t.lost, 0u);
  EXPECT_NE(bridge.log().find("reconnecting in"), std::string::npos) << bridge.log();
  // Every delivery was acknowledged to the broker once brook's sink had acknowledged it.
  EXPECT_EQ(Client(mq.url()).depth("in-q"), 0u);
}

TEST(AmqpBridge, OutPublishesEveryMessageAcrossABrokerCrash) {
  SKIP_WITHOUT_RABBITMQ();
  constexpr std::uint64_t kCount = 6000;
  RabbitMq mq;
  Cluster c;
  c.start_directory();
  c.write_topology(yaml_with(R"(
topology: amqp-out
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms, ttl: 1s}
channels:
  work: {ack_timeout: 1s}
nodes:
  source: {exec: brook-test-source, drain_timeout: 60s, outputs: {out: work},
           params: {count: 6000, rate: 1500, keys: 8, retry_refused: true}}
  bridge: {exec: brook-amqp-out, inputs: {in: work},
           params: {url: '{URL}', exchange: out-ex, exchange_type: topic, queue: out-q,
                    prefetch: 500, reconnect_max: 500ms}}
)",
                             mq.url()));
  auto bridge = c.start_node("brook-amqp-out", "bridge");
  auto source = c.start_node("brook-test-source", "source");
  auto received = [&] { return c.counter("bridge", "work", &ChannelCounters::received); };
  ASSERT_TRUE(wait_for([&] { return received() >= kCount / 3; }, 30s)) << bridge.log();
  mq.kill();
  const std::uint64_t at_kill = received();
  mq.start();
  EXPECT_EQ(source.wait(60s), 0) << source.log();  // every message acknowledged = confirmed
  EXPECT_EQ(bridge.stop(), 0) << bridge.log();
  std::multiset<std::uint64_t> got;
  std::map<std::string, std::string> first_headers;
  for (const auto& [body, props] : Client(mq.url()).drain("out-q")) {
    got.insert(body->as<TestMsg>().n);
    if (first_headers.empty()) {
      first_headers.insert(props.headers.begin(), props.headers.end());
      EXPECT_EQ(props.type, "brook.test.Msg");
      EXPECT_EQ(props.content_type, "application/msgpack");
      EXPECT_NE(props.message_id.find("source.0@"), std::string::npos) << props.message_id;
    }
  }
  const Tally t = tally(got, kCount);
  std::cout << "amqp-out: " << kCount << " emitted, broker SIGKILLed after " << at_kill
            << " and restarted: " << t.distinct << " distinct in the queue, lost " << t.lost
            << ", duplicated " << t.duplicated << "\n";
  EXPECT_EQ(t.lost, 0u);
  EXPECT_EQ(first_headers.count("traceparent"), 1u);
  EXPECT_EQ(first_headers.count("brook-key"), 1u);
  EXPECT_NE(bridge.log().find("reconnecting in"), std::string::npos) << bridge.log();
}

}  // namespace
}  // namespace brook::test
