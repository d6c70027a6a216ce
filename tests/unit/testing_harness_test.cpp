// brook::testing: a node's handlers driven in-process, with what a node process would do to
// each message (acknowledgement, de-duplication, retries, dead letters) and a manual clock.
#include <gtest/gtest.h>

#include <brook/testing.hpp>
#include <string>
#include <vector>

namespace brook {
namespace {

using namespace std::chrono_literals;
using testing::Outcome;
using testing::TestNode;

struct Order {
  static constexpr std::string_view kTypeName = "test.Order";
  std::string id;
  int quantity = 0;
  MSGPACK_DEFINE_MAP(id, quantity)
};

struct Receipt {
  static constexpr std::string_view kTypeName = "test.Receipt";
  std::string id;
  int total = 0;
  MSGPACK_DEFINE_MAP(id, total)
};

constexpr const char* kTopology = R"(
topology: harness
channels:
  orders: {pattern: pipeline, external: true, retry: {max_attempts: 3, initial: 100ms, max: 1s}, dead_letter: orders-dead}
  orders-dead: {pattern: pipeline}
  receipts: {pattern: pipeline, max_message_size: 1KiB}
  prices: {pattern: pubsub, external: true}
nodes:
  till:
    exec: till
    inputs: {in: orders, prices: prices}
    outputs: {out: receipts}
    params: {unit: 5}
  keeper:
    exec: brook-dead-letters
    inputs: {in: orders-dead}
)";

testing::TestOptions quiet() {
  return testing::TestOptions().with_log_level(LogLevel::kOff);
}

// The node under test, wired as its main() would wire it.
void wire_till(Node& node, int& calls) {
  const int unit = node.params().get<int>("unit");
  node.on<Order>("in", [&node, &calls, unit](const Order& o) {
    ++calls;
    if (o.quantity < 0) throw Error("negative quantity");
    node.emit("out", Receipt{o.id, o.quantity * unit}, with_key(o.id));
  });
  node.on("prices", [](const Message&) {});
}

class Harness : public ::testing::Test {
 protected:
  void SetUp() override {
    wire_till(t_.node(), calls_);
    t_.start();
  }
  TestNode t_ = TestNode::from_yaml(kTopology, "till", quiet());
  int calls_ = 0;
};

TEST_F(Harness, HandlesTypedMessagesAndCapturesWhatWasEmitted) {
  const testing::Delivery& d = t_.send("in", Order{"o1", 3}, testing::SendOptions().with_key("o1"));
  EXPECT_EQ(d.outcome, Outcome::kHandled);
  EXPECT_TRUE(d.acknowledged) << "at-least-once input: acknowledged once the handler returned";
  EXPECT_EQ(d.attempts, 1u);
  ASSERT_EQ(t_.emitted("out").size(), 1u);
  const testing::Emitted& e = t_.emitted("out")[0];
  EXPECT_EQ(e.envelope.type, "test.Receipt");
  EXPECT_EQ(e.envelope.channel, "receipts");
  EXPECT_EQ(e.envelope.producer, "till.0@test");
  EXPECT_EQ(e.envelope.seq, 1u);
  EXPECT_EQ(e.key(), "o1");
  EXPECT_TRUE(e.refused.empty());
  EXPECT_EQ(t_.emitted_as<Receipt>("out")[0].total, 15);
  EXPECT_EQ(t_.counters("orders").received, 1u);
  EXPECT_EQ(t_.counters("receipts").emitted, 1u);

  t_.send("in", Order{"o2", 1});
  EXPECT_EQ(t_.emitted("out")[1].envelope.seq, 2u);
  EXPECT_EQ(t_.emitted("out")[1].key(), "o2");
  t_.clear_emitted();
  EXPECT_TRUE(t_.emitted("out").empty());
}

// Node::state under brook::testing: the same transactions as in a process, in memory.
TEST(HarnessState, AHandlerThatThrowsChangesNothingInTheStore) {
  TestNode t = TestNode::from_yaml(kTopology, "till", quiet());
  Node& node = t.node();
  State<int> totals = node.state<int>("totals");
  node.on<Order>("in", [totals](const Order& o) {
    const int total = totals.get(o.id).value_or(0) + o.quantity;
    totals.put(o.id, total);
    if (total > 10) throw Error("over the limit");
  });
  node.on("prices", [](const Message&) {});
  t.start();
  EXPECT_EQ(t.send("in", Order{"a", 4}).outcome, Outcome::kHandled);
  EXPECT_EQ(t.send("in", Order{"a", 5}).outcome, Outcome::kHandled);
  EXPECT_EQ(totals.get("a"), 9);
  const testing::Delivery& over = t.send("in", Order{"a", 7});
  EXPECT_EQ(over.outcome, Outcome::kRetrying);
  EXPECT_EQ(totals.get("a"), 9) << "the throwing call's put was undone";
  EXPECT_EQ(totals.get("b"), std::nullopt);
  EXPECT_EQ(totals.size(), 1u);
  EXPECT_TRUE(totals.erase("a"));
  EXPECT_FALSE(totals.contains("a"));
  // A value stored as another type says so instead of converting to garbage.
  node.state<std::string>("totals").put("s", "text");
  try {
    (void)totals.get("s");
    FAIL() << "a string converted to int";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("state 'totals', key 's'"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)State<int>().get("x"), Error) << "an unbound handle";
}

TEST_F(Harness, AnEmitContinuesTheTraceOfTheMessageBeingHandled) {
  OutgoingEnvelope env;
  env.producer = "basket.0@abc";
  env.seq = 1;
  env.channel = "orders";
  env.type = "test.Order";
  env.trace[0] = std::byte{0x42};
  env.trace[15] = std::byte{0x17};
  EnvelopeEncoder encoder;
  const auto frame = encoder.encode(env, Order{"o1", 1});
  EXPECT_EQ(t_.send_frame("in", frame).outcome, Outcome::kHandled);
  ASSERT_EQ(t_.emitted("out").size(), 1u);
  EXPECT_EQ(t_.emitted("out")[0].envelope.trace, env.trace);
}

TEST_F(Harness, ARetriedHandlerFollowsTheChannelsBackoffThenDeadLetters) {
  const testing::Delivery& d =
      t_.send("in", Order{"bad", -1}, testing::SendOptions().with_key("bad"));
  EXPECT_EQ(d.outcome, Outcome::kRetrying);
  EXPECT_FALSE(d.acknowledged) << "the ack waits for the retry";
  EXPECT_EQ(calls_, 1);
  // The first retry is due within [initial/2, initial] = [50, 100] ms.
  t_.advance(49ms);
  EXPECT_EQ(calls_, 1);
  t_.advance(51ms);
  EXPECT_EQ(calls_, 2);
  EXPECT_EQ(d.outcome, Outcome::kRetrying);
  // The second within [100, 200] ms of the first retry; then max_attempts (3) are used up.
  t_.advance(200ms);
  EXPECT_EQ(calls_, 3);
  EXPECT_EQ(d.outcome, Outcome::kDeadLettered);
  EXPECT_TRUE(d.acknowledged);
  EXPECT_EQ(d.attempts, 3u);
  EXPECT_EQ(d.errors, std::vector<std::string>(3, "negative quantity"));
  EXPECT_FALSE(t_.next_due()) << "nothing left to retry";

  ASSERT_EQ(t_.dead_letters("in").size(), 1u);
  const testing::Emitted& dl = t_.dead_letters("in")[0];
  EXPECT_EQ(dl.envelope.channel, "orders-dead");
  EXPECT_EQ(dl.envelope.type, "test.Order");
  EXPECT_EQ(dl.key(), "bad");
  EXPECT_EQ(dl.header("dead-letter-error"), "negative quantity");
  EXPECT_EQ(dl.header("dead-letter-attempts"), "3");
  EXPECT_EQ(dl.header("dead-letter-node"), "till.0");
  EXPECT_EQ(dl.header("dead-letter-channel"), "orders");
  EXPECT_EQ(dl.header("dead-letter-producer"), "producer.0@test");
  EXPECT_EQ(dl.header("dead-letter-seq"), "1");
  EXPECT_EQ(dl.as<Order>().quantity, -1) << "the payload is kept as it was";
  const ChannelCounters& c = t_.counters("orders");
  EXPECT_EQ(c.handler_errors, 3u);
  EXPECT_EQ(c.retried, 2u);
  EXPECT_EQ(c.dead_lettered, 1u);
  EXPECT_TRUE(t_.emitted("out").empty());
}

TEST_F(Harness, AFlakyHandlerSucceedsOnARetry) {
  int failures_left = 1;
  TestNode t = TestNode::from_yaml(kTopology, "till", quiet());
  t.node().on<Order>("in", [&](const Order& o) {
    if (failures_left-- > 0) throw Error("database busy");
    t.node().emit("out", Receipt{o.id, 1});
  });
  t.node().on("prices", [](const Message&) {});
  t.start();
  const testing::Delivery& d = t.send("in", Order{"o", 1});
  EXPECT_EQ(d.outcome, Outcome::kRetrying);
  t.advance(1s);
  EXPECT_EQ(d.outcome, Outcome::kHandled);
  EXPECT_TRUE(d.acknowledged);
  EXPECT_EQ(d.errors, std::vector<std::string>{"database busy"});
  EXPECT_EQ(t.emitted("out").size(), 1u);
}

TEST_F(Harness, APayloadOfTheWrongTypeIsDeadLetteredWithoutRetry) {
  const testing::Delivery& d = t_.send("in", std::string("not an order"));
  EXPECT_EQ(d.outcome, Outcome::kDeadLettered);
  EXPECT_EQ(calls_, 0);
  EXPECT_EQ(d.attempts, 1u);
  EXPECT_EQ(t_.counters("orders").decode_errors, 1u);
  ASSERT_EQ(t_.dead_letters("in").size(), 1u);
  EXPECT_NE(t_.dead_letters("in")[0].header("dead-letter-error").find("which takes 'test.Order'"),
            std::string_view::npos);

  // The right type name on a payload that does not convert.
  const testing::Delivery& same_name =
      t_.send("in", std::string("not an order"), testing::SendOptions().with_type("test.Order"));
  EXPECT_EQ(same_name.outcome, Outcome::kDeadLettered);
  EXPECT_EQ(calls_, 0);
  ASSERT_EQ(t_.dead_letters("in").size(), 2u);
  EXPECT_NE(t_.dead_letters("in")[1].header("dead-letter-error").find("does not convert"),
            std::string_view::npos);
}

TEST_F(Harness, AReSentMessageIsNotHandledTwice) {
  const auto& first = t_.send("in", Order{"o1", 1}, testing::SendOptions().from("basket.0@abc", 7));
  const auto& again = t_.send("in", Order{"o1", 1}, testing::SendOptions().from("basket.0@abc", 7));
  EXPECT_EQ(first.outcome, Outcome::kHandled);
  EXPECT_EQ(again.outcome, Outcome::kDuplicate);
  EXPECT_TRUE(again.acknowledged) << "acknowledged again, so the producer stops re-sending";
  EXPECT_EQ(calls_, 1);
  EXPECT_EQ(t_.counters("orders").duplicates, 1u);
  // Another producer's seq 7 is another message.
  EXPECT_EQ(t_.send("in", Order{"o1", 1}, testing::SendOptions().from("basket.1@abc", 7)).outcome,
            Outcome::kHandled);
}

TEST_F(Harness, AReSendOfAMessageWaitingForItsRetryIsNeitherHandledNorAcknowledged) {
  const auto& d = t_.send("in", Order{"bad", -1}, testing::SendOptions().with_seq(1));
  const auto& again = t_.send("in", Order{"bad", -1}, testing::SendOptions().with_seq(1));
  EXPECT_EQ(d.outcome, Outcome::kRetrying);
  EXPECT_EQ(again.outcome, Outcome::kDuplicate);
  EXPECT_FALSE(again.acknowledged);
  EXPECT_EQ(calls_, 1);
}

TEST_F(Harness, PubsubInputsAreNeitherAcknowledgedNorDeDuplicated) {
  const auto& a = t_.send("prices", 1, testing::SendOptions().with_seq(1));
  const auto& b = t_.send("prices", 1, testing::SendOptions().with_seq(1));
  EXPECT_EQ(a.outcome, Outcome::kHandled);
  EXPECT_EQ(b.outcome, Outcome::kHandled);
  EXPECT_FALSE(a.acknowledged);
}

// brook::Declined: the message stays with its producer (no ack, not remembered as handled), so
// its re-send is handled once the node has room; where it cannot be given back it is a failure.
TEST(HarnessDeclined, ADeclinedMessageIsLeftWithItsProducerAndHandledWhenReSent) {
  TestNode t = TestNode::from_yaml(kTopology, "till", quiet());
  bool full = true;
  int stored = 0;
  int attempts = 0;
  t.node().on<Order>("in", [&](const Order& o) {
    ++attempts;
    if (o.quantity < 0 && attempts == 1) throw Error("first attempt fails");
    if (full) throw Declined("store full");
    ++stored;
  });
  t.node().on("prices", [&](const Message&) {
    if (full) throw Declined("store full");
  });
  t.start();

  const auto& first = t.send("in", Order{"o1", 1}, testing::SendOptions().with_seq(1));
  EXPECT_EQ(first.outcome, Outcome::kDeclined);
  EXPECT_FALSE(first.acknowledged) << "the producer keeps it";
  EXPECT_EQ(first.errors, std::vector<std::string>{"store full"});
  EXPECT_EQ(t.counters("orders").declined, 1u);
  EXPECT_EQ(t.counters("orders").handler_errors, 0u) << "declining is not failing";

  full = false;
  const auto& resent = t.send("in", Order{"o1", 1}, testing::SendOptions().with_seq(1));
  EXPECT_EQ(resent.outcome, Outcome::kHandled) << "not taken for a duplicate";
  EXPECT_TRUE(resent.acknowledged);
  EXPECT_EQ(stored, 1);

  // A best-effort input cannot give a message back: declining is a failed attempt there.
  full = true;
  const auto& price = t.send("prices", 1, testing::SendOptions().with_seq(1));
  EXPECT_EQ(price.outcome, Outcome::kFailed);
  EXPECT_EQ(t.counters("prices").handler_errors, 1u);

  // Nor can a retry, which owns the message by then: the policy goes on, then the dead letter.
  attempts = 0;
  const auto& retried = t.send("in", Order{"o2", -1}, testing::SendOptions().with_seq(2));
  EXPECT_EQ(retried.outcome, Outcome::kRetrying);
  t.advance(5s);
  EXPECT_EQ(retried.outcome, Outcome::kDeadLettered);
  EXPECT_EQ(retried.attempts, 3u);
  EXPECT_TRUE(retried.acknowledged);
  EXPECT_EQ(stored, 1);
}

// Node::hold: a handled message kept unacknowledged until released; released while another
// message is handled, it is acknowledged with that one; given back, its re-send is handled again.
TEST(HarnessHold, AHeldMessageIsAcknowledgedWhenReleasedWithTheMessageThatCompletesIt) {
  TestNode t = TestNode::from_yaml(kTopology, "till", quiet());
  Node& node = t.node();
  std::vector<Hold> held;
  bool fail_completion = false;
  node.on<Order>("in", [&](const Order& o) {
    if (o.quantity > 0) {  // a part: wait for the completion
      held.push_back(node.hold());
      return;
    }
    for (auto& h : held)
      h.release();
    held.clear();
    if (fail_completion) throw Error("completion failed");
  });
  node.on("prices", [&](const Message&) { (void)node.hold(); });
  t.start();

  const auto& a = t.send("in", Order{"a", 1}, testing::SendOptions().with_seq(1));
  const auto& b = t.send("in", Order{"b", 2}, testing::SendOptions().with_seq(2));
  EXPECT_EQ(a.outcome, Outcome::kHeld);
  EXPECT_FALSE(a.acknowledged) << "its producer keeps it";
  const auto& again = t.send("in", Order{"a", 1}, testing::SendOptions().with_seq(1));
  EXPECT_EQ(again.outcome, Outcome::kDuplicate);
  EXPECT_FALSE(again.acknowledged) << "a re-send of a held message is not acknowledged either";
  const auto& done = t.send("in", Order{"done", 0}, testing::SendOptions().with_seq(3));
  EXPECT_EQ(done.outcome, Outcome::kHandled);
  EXPECT_TRUE(done.acknowledged);
  EXPECT_TRUE(a.acknowledged) << "released with the completion";
  EXPECT_TRUE(b.acknowledged);
  EXPECT_EQ(a.outcome, Outcome::kHandled);

  // A completion that fails gives what it released back to the producers (a retry owns it).
  fail_completion = true;
  const auto& c = t.send("in", Order{"c", 1}, testing::SendOptions().with_seq(4));
  const auto& failing = t.send("in", Order{"done", 0}, testing::SendOptions().with_seq(5));
  EXPECT_EQ(failing.outcome, Outcome::kRetrying);
  EXPECT_EQ(c.outcome, Outcome::kDeclined);
  EXPECT_FALSE(c.acknowledged);
  fail_completion = false;
  EXPECT_EQ(t.send("in", Order{"c", 1}, testing::SendOptions().with_seq(4)).outcome, Outcome::kHeld)
      << "given back: its re-send is handled again";

  // Dropping a Hold gives its message back; a best-effort input has nothing to hold back.
  held.clear();
  EXPECT_EQ(t.deliveries().back().outcome, Outcome::kDeclined);
  const auto& price = t.send("prices", 1, testing::SendOptions().with_seq(1));
  EXPECT_EQ(price.outcome, Outcome::kFailed);
  EXPECT_NE(price.errors.at(0).find("does not acknowledge what it receives"), std::string::npos)
      << price.errors.at(0);
  EXPECT_THROW((void)node.hold(), Error) << "outside a handler";
}

TEST(HarnessHold, AHoldThatOutlivesItsNodeDoesNothing) {
  Hold kept;
  {
    TestNode t = TestNode::from_yaml(kTopology, "till", quiet());
    Node& node = t.node();
    node.on<Order>("in", [&node, &kept, captured = std::make_shared<std::vector<Hold>>()](
                             const Order& o) mutable {
      // One hold outlives the node, one dies with the handler that captured it.
      (o.quantity == 1 ? kept : captured->emplace_back()) = node.hold();
    });
    node.on("prices", [](const Message&) {});
    t.start();
    EXPECT_EQ(t.send("in", Order{"a", 1}).outcome, Outcome::kHeld);
    EXPECT_EQ(t.send("in", Order{"b", 2}).outcome, Outcome::kHeld);
  }
  EXPECT_TRUE(kept.held());
  kept.release();  // its node is gone: nothing to acknowledge
  EXPECT_FALSE(kept.held());
}

// An emit() that found the next channel full, escaping the handler, declines the message too:
// a consumer that is restarting must not make its producer's inputs fail for good.
TEST(HarnessDeclined, BackpressureEscapingAHandlerDeclinesTheMessage) {
  TestNode t = TestNode::from_yaml(kTopology, "till", quiet());
  bool full = true;
  t.node().on<Order>("in", [&](const Order&) {
    if (full) throw BackpressureError("channel 'receipts': consumer group took nothing");
  });
  t.node().on("prices", [&](const Message&) {});
  t.start();
  const auto& first = t.send("in", Order{"o1", 1}, testing::SendOptions().with_seq(1));
  EXPECT_EQ(first.outcome, Outcome::kDeclined);
  EXPECT_FALSE(first.acknowledged);
  EXPECT_EQ(t.counters("orders").handler_errors, 0u);
  full = false;
  EXPECT_EQ(t.send("in", Order{"o1", 1}, testing::SendOptions().with_seq(1)).outcome,
            Outcome::kHandled);
}

TEST_F(Harness, GarbageAndMisdirectedFramesAreCountedNotHandled) {
  const std::string garbage = "\x91\x01garbage";
  const auto& g = t_.send_frame("in", as_bytes(garbage));
  EXPECT_EQ(g.outcome, Outcome::kMalformed);
  ASSERT_EQ(g.errors.size(), 1u);
  EXPECT_FALSE(g.errors[0].empty());

  // A frame emitted on 'receipts' sent to the 'orders' input.
  t_.send("in", Order{"o1", 1});
  const auto& w = t_.send_frame("in", t_.emitted("out")[0].frame);
  EXPECT_EQ(w.outcome, Outcome::kWrongChannel);
  EXPECT_FALSE(w.acknowledged) << "its producer has a stale address and keeps it";
  EXPECT_EQ(t_.counters("orders").decode_errors, 1u);
  EXPECT_EQ(t_.counters("orders").misrouted, 1u);
  EXPECT_EQ(calls_, 1);
}

TEST_F(Harness, EmitsAboveMaxMessageSizeAreRefused) {
  TestNode t = TestNode::from_yaml(kTopology, "till", quiet());
  t.node().on<Order>("in", [&](const Order&) { t.node().emit("out", std::string(2048, 'x')); });
  t.node().on("prices", [](const Message&) {});
  t.start();
  const auto& d = t.send("in", Order{"o", 1});
  EXPECT_EQ(d.outcome, Outcome::kRetrying) << "MessageTooLarge is a handler failure";
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_NE(d.errors[0].find("exceeds max_message_size 1024"), std::string::npos) << d.errors[0];
  EXPECT_THROW(t.node().emit("out", std::string(2048, 'x')), MessageTooLarge);
}

TEST(HarnessSetup, PortsHandlersAndLifecycleAreCheckedAsInAProcess) {
  TestNode t = TestNode::from_yaml(kTopology, "till", quiet());
  EXPECT_THROW(t.node().emit("out", Receipt{}), ConfigError) << "emit before start";
  try {
    t.node().on("nope", [](const Message&) {});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("no input port 'nope'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("in test.yaml:9:3 (inputs: in, prices)"),
              std::string::npos)
        << e.what();
  }
  t.node().on("in", [](const Message&) {});
  try {
    t.start();
    FAIL() << "the 'prices' input has no handler";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("input port 'prices' (channel 'prices') has no handler"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(t.send("in", 1), ConfigError) << "send before start";
  t.node().on("prices", [](const Message&) {});
  int stopped = 0;
  t.node().on_stop([&] { ++stopped; });
  t.start();
  EXPECT_TRUE(t.started());
  EXPECT_TRUE(t.node().ready());
  EXPECT_THROW(t.node().run(), ConfigError);
  EXPECT_THROW((void)t.emitted("nope"), ConfigError);
  EXPECT_THROW(t.send("nope", 1), ConfigError);
  EXPECT_TRUE(t.dead_letters("prices").empty()) << "a channel without dead_letter";
  EXPECT_FALSE(t.stop_requested());
  t.node().stop();
  EXPECT_TRUE(t.stop_requested());
  t.stop();
  EXPECT_EQ(stopped, 1);
  EXPECT_THROW(t.send("in", 1), ConfigError) << "send after stop";
}

TEST(HarnessSetup, TopologyErrorsAndUnknownNodesAreReportedAsByAProcess) {
  EXPECT_THROW(TestNode::from_yaml("topology: x\nchannels: {}\n", "n"), TopologyError);
  try {
    (void)TestNode::from_yaml(kTopology, "nobody");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("node 'nobody' is not in topology 'harness'"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(
      (void)TestNode::from_yaml(kTopology, "till", testing::TestOptions().with_instance(1)),
      ConfigError);
}

TEST(HarnessSetup, OverridesAndParams) {
  TestNode t = TestNode::from_yaml(kTopology, "till",
                                   testing::TestOptions().with_override("till.params.unit=7"));
  EXPECT_EQ(t.node().params().get<int>("unit"), 7);
  EXPECT_EQ(t.node().instance_name(), "till.0");
  EXPECT_EQ(t.node().producer_id(), "till.0@test");
}

TEST(HarnessSetup, TheProgramsOwnOptionsAreParsedAsOnItsCommandLine) {
  ProgramOptions own("till options");
  own.add<double>("rate", "orders per second").add<bool>("dry-run", "");
  TestNode t = TestNode::from_yaml(
      kTopology, "till", testing::TestOptions().with_program_options(own, {"--rate", "2.5"}));
  EXPECT_EQ(t.node().option<double>("rate"), 2.5);
  EXPECT_EQ(t.node().option<bool>("dry-run"), std::nullopt);
  EXPECT_THROW(
      TestNode::from_yaml(kTopology, "till",
                          testing::TestOptions().with_program_options(own, {"--rate", "x"})),
      UsageError);
  EXPECT_THROW((void)TestNode::from_yaml(kTopology, "till").node().option<double>("rate"),
               UsageError)
      << "not declared";
}

TEST(HarnessSetup, ATopologyBuiltInCode) {
  Topology topo;
  topo.name = "code";
  ChannelSpec in;
  in.name = "words";
  topo.channels.push_back(in);
  NodeSpec n;
  n.name = "counter";
  n.exec = "counter";
  n.inputs.push_back(PortSpec{"in", "words", {}, false, FsyncPolicy::kBatch, {}});
  topo.nodes.push_back(n);
  TestNode t = TestNode::from_topology(topo, "counter");
  int words = 0;
  t.node().on<std::string>("in", [&](const std::string&) { ++words; });
  t.start();
  t.send("in", std::string("hello"));
  EXPECT_EQ(words, 1);
}

TEST(HarnessClock, TimersRunAtTheirOwnTimesOnTheTestsClock) {
  TestNode t = TestNode::from_yaml(kTopology, "till", quiet());
  t.node().on("in", [](const Message&) {});
  t.node().on("prices", [](const Message&) {});
  const auto start = t.now();
  std::vector<std::chrono::milliseconds> ticks;
  int once = 0;
  t.node().on_ready([&] {
    t.node().every(100ms, [&] {
      ticks.push_back(
          std::chrono::duration_cast<std::chrono::milliseconds>(t.node().now() - start));
      t.node().emit("out", Receipt{"tick", 0});
    });
    const TimerId cancelled = t.node().after(50ms, [&] { ++once; });
    t.node().after(250ms, [&] { ++once; });
    t.node().cancel(cancelled);
  });
  t.start();
  EXPECT_TRUE(ticks.empty()) << "nothing runs until the clock moves";
  t.advance(1s);
  ASSERT_EQ(ticks.size(), 10u);
  EXPECT_EQ(ticks.front(), 100ms);
  EXPECT_EQ(ticks.back(), 1000ms);
  EXPECT_EQ(once, 1);
  EXPECT_EQ(t.emitted("out").size(), 10u);
  EXPECT_EQ(t.now() - start, 1s);
  EXPECT_EQ(*t.next_due() - start, 1100ms);
}

TEST(HarnessClock, AZeroPeriodTimerRunsOncePerMillisecond) {
  TestNode t = TestNode::from_yaml(kTopology, "till", quiet());
  t.node().on("in", [](const Message&) {});
  t.node().on("prices", [](const Message&) {});
  int runs = 0;
  t.start();
  t.node().every(0ms, [&] { ++runs; });
  t.advance(0ms);
  EXPECT_EQ(runs, 1);
  t.advance(10ms);
  EXPECT_EQ(runs, 11);
}

TEST(HarnessChain, OneNodesOutputFeedsAnother) {
  constexpr const char* kTwo = R"(
topology: two
channels: {a: {external: true}, b: {}}
nodes:
  first: {exec: x, inputs: {in: a}, outputs: {out: b}}
  second: {exec: y, inputs: {in: b}}
)";
  TestNode first = TestNode::from_yaml(kTwo, "first");
  TestNode second = TestNode::from_yaml(kTwo, "second");
  first.node().on<int>("in", [&](int x) { first.node().emit("out", x * 2); });
  std::vector<int> seen;
  second.node().on<int>("in", [&](int x) { seen.push_back(x); });
  first.start();
  second.start();
  first.send("in", 21);
  const auto& d = second.send_frame("in", first.emitted("out").at(0).frame);
  EXPECT_EQ(d.outcome, Outcome::kHandled);
  EXPECT_EQ(d.producer, "first.0@test");
  EXPECT_EQ(seen, std::vector<int>{42});
}

}  // namespace
}  // namespace brook
