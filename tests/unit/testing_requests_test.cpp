// brook::testing and request/reply: the test asks the ports a node serves (TestNode::request) and
// answers the requests a node sends (reply, fail_request, serve), with timeouts and max_pending
// on the test's clock, as a node process would.
#include <gtest/gtest.h>

#include <brook/testing.hpp>
#include <string>
#include <vector>

namespace brook {
namespace {

using namespace std::chrono_literals;
using testing::SentRequest;
using testing::TestNode;

struct Ask {
  static constexpr std::string_view kTypeName = "test.Ask";
  std::string sku;
  int quantity = 0;
  MSGPACK_DEFINE_MAP(sku, quantity)
};

struct Quote {
  static constexpr std::string_view kTypeName = "test.Quote";
  std::string sku;
  int cents = 0;
  MSGPACK_DEFINE_MAP(sku, cents)
};

constexpr const char* kTopology = R"(
topology: rr
channels:
  quotes: {pattern: request, timeout: 2s, max_pending: 2}
  asks: {pattern: pipeline, external: true}
  totals: {pattern: pipeline}
  audit: {pattern: pipeline}
nodes:
  quoter:
    exec: quoter
    inputs: {quote: quotes}
    outputs: {audit: audit}
  shopper:
    exec: shopper
    inputs: {in: asks}
    outputs: {quote: quotes, total: totals}
)";

testing::TestOptions quiet() {
  return testing::TestOptions().with_log_level(LogLevel::kOff);
}

// The serving node as its main() would wire it: 150 cents a unit, "later" answered by a timer.
void wire_quoter(Node& node) {
  node.on_request<Ask, Quote>("quote", [&node](const Ask& a, Responder<Quote> r) {
    if (a.quantity < 0) throw Error("negative quantity");
    if (a.sku == "unknown") {
      r.fail("no such sku");
      return;
    }
    node.emit("audit", a);
    if (a.sku == "later") {
      node.after(100ms, [r, a] { r.reply(Quote{a.sku, 1}); });
      return;
    }
    r.reply(Quote{a.sku, 150 * a.quantity});
  });
}

// The asking node: one request per incoming ask, the total (or -1 on failure) emitted.
void wire_shopper(Node& node, std::vector<std::string>& errors) {
  node.on<Ask>("in", [&node, &errors](const Ask& a) {
    node.request<Quote>("quote", a, [&node, &errors, sku = a.sku](const Reply<Quote>& r) {
      if (!r.ok()) errors.push_back(r.error());
      node.emit("total", Quote{sku, r.ok() ? r.value().cents : -1});
    });
  });
}

TEST(TestingRequests, AServedRequestGetsTheHandlersReplyAndItsEmitsLeave) {
  auto t = TestNode::from_yaml(kTopology, "quoter", quiet());
  wire_quoter(t.node());
  t.start();
  const auto& r = t.request("quote", Ask{"tea", 3});
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.reply_as<Quote>().value().cents, 450);
  EXPECT_EQ(r.reply.type, "test.Quote");
  ASSERT_EQ(r.reply.headers.size(), 1U);
  EXPECT_EQ(r.reply.headers[0], std::make_pair(std::string("reply-to"), std::to_string(r.seq)));
  ASSERT_EQ(t.emitted_as<Ask>("audit").size(), 1U);
  // The audit record continues the request's trace.
  EXPECT_EQ(t.emitted("audit").at(0).envelope.trace, r.reply.trace);
  EXPECT_EQ(t.counters("quotes").received, 1U);
  EXPECT_EQ(t.counters("quotes").sent, 1U);
}

TEST(TestingRequests, FailuresReachTheCallerWithTheirReason) {
  auto t = TestNode::from_yaml(kTopology, "quoter", quiet());
  wire_quoter(t.node());
  t.start();
  const auto& failed = t.request("quote", Ask{"unknown", 1});
  EXPECT_EQ(failed.reply_as<Quote>().error(), "no such sku");
  const auto& threw = t.request("quote", Ask{"tea", -1});
  EXPECT_EQ(threw.reply_as<Quote>().error(), "negative quantity");
  EXPECT_EQ(t.counters("quotes").handler_errors, 1U);
  // A request of another shape does not convert to Ask: failed back, not a crash.
  const auto& wrong = t.request("quote", std::string("tea"));
  ASSERT_TRUE(wrong.answered);
  EXPECT_FALSE(wrong.reply_as<Quote>().ok());
  // A reply that does not convert to what the caller expects is a failure, not a throw.
  const auto& ok = t.request("quote", Ask{"tea", 1});
  EXPECT_NE(ok.reply_as<std::vector<int>>().error().find("does not convert"), std::string::npos);
  EXPECT_TRUE(t.emitted("audit").size() == 1U);  // only the one that got that far
}

TEST(TestingRequests, AKeptResponderAnswersLaterOnTheTestsClock) {
  auto t = TestNode::from_yaml(kTopology, "quoter", quiet());
  wire_quoter(t.node());
  t.start();
  const auto& r = t.request("quote", Ask{"later", 1});
  EXPECT_FALSE(r.answered);
  EXPECT_THROW((void)r.reply_as<Quote>(), Error);
  t.advance(99ms);
  EXPECT_FALSE(r.answered);
  t.advance(1ms);
  ASSERT_TRUE(r.answered);
  EXPECT_EQ(r.reply_as<Quote>().value().cents, 1);
}

TEST(TestingRequests, RequestPortsAreCheckedAsInAProcess) {
  auto t = TestNode::from_yaml(kTopology, "quoter", quiet());
  // on() on a request port, and a request port left without a handler, are ConfigErrors.
  EXPECT_THROW(t.node().on<Ask>("quote", [](const Ask&) {}), ConfigError);
  try {
    t.start();
    FAIL() << "started without a request handler";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("on_request<Req, Rep>(\"quote\""), std::string::npos)
        << e.what();
  }
  auto s = TestNode::from_yaml(kTopology, "shopper", quiet());
  std::vector<std::string> errors;
  wire_shopper(s.node(), errors);
  s.start();
  EXPECT_THROW((void)s.request("in", Ask{"tea", 1}), ConfigError);  // not a request port
  EXPECT_THROW((void)s.sent_requests("total"), ConfigError);        // not a request port
  // A port the topology leaves out: an error, unless the code marks it optional.
  auto u = TestNode::from_yaml(kTopology, "quoter", quiet());
  wire_quoter(u.node());
  auto serve = [](const Ask&, Responder<Quote>) {};
  EXPECT_THROW((u.node().on_request<Ask, Quote>("stock", serve)), ConfigError);
  u.node().on_request<Ask, Quote>("stock", serve, optional_port);
  EXPECT_NO_THROW(u.start());
}

TEST(TestingRequests, TheTestAnswersTheNodesRequestsOneByOne) {
  auto t = TestNode::from_yaml(kTopology, "shopper", quiet());
  std::vector<std::string> errors;
  wire_shopper(t.node(), errors);
  t.start();
  (void)t.send("in", Ask{"tea", 2});
  (void)t.send("in", Ask{"jam", 1});
  const auto& sent = t.sent_requests("quote");
  ASSERT_EQ(sent.size(), 2U);
  EXPECT_EQ(sent[0].as<Ask>().quantity, 2);
  EXPECT_EQ(sent[0].envelope.channel, "quotes");
  EXPECT_EQ(sent[0].state, SentRequest::State::kPending);
  EXPECT_EQ(sent[0].deadline, t.now() + 2s);
  EXPECT_TRUE(t.emitted("total").empty());  // no answer yet
  EXPECT_EQ(t.counters("quotes").in_flight, 2U);

  t.reply(sent[1], Quote{"jam", 99});
  t.fail_request(sent[0], "out of stock");
  const auto totals = t.emitted_as<Quote>("total");
  ASSERT_EQ(totals.size(), 2U);
  EXPECT_EQ(totals[0].sku, "jam");
  EXPECT_EQ(totals[0].cents, 99);
  EXPECT_EQ(totals[1].cents, -1);
  EXPECT_EQ(errors, std::vector<std::string>{"out of stock"});
  EXPECT_EQ(sent[0].state, SentRequest::State::kFailed);
  EXPECT_EQ(sent[1].state, SentRequest::State::kReplied);
  EXPECT_EQ(t.counters("quotes").in_flight, 0U);
  // Each request is answered once.
  EXPECT_THROW(t.reply(sent[1], Quote{"jam", 1}), ConfigError);
}

TEST(TestingRequests, UnansweredRequestsTimeOutAndMaxPendingHolds) {
  auto t = TestNode::from_yaml(kTopology, "shopper", quiet());
  std::vector<std::string> errors;
  wire_shopper(t.node(), errors);
  t.start();
  (void)t.send("in", Ask{"tea", 1});
  (void)t.send("in", Ask{"jam", 1});
  // max_pending: 2 — a third request throws BackpressureError in the handler, which declines
  // the message: its producer keeps it and re-sends it.
  const auto& third = t.send("in", Ask{"egg", 1});
  EXPECT_EQ(third.outcome, testing::Outcome::kDeclined);
  EXPECT_FALSE(third.acknowledged);
  EXPECT_NE(third.errors.at(0).find("max_pending"), std::string::npos);
  EXPECT_EQ(t.counters("quotes").backpressure, 1U);
  t.advance(1999ms);
  EXPECT_TRUE(t.emitted("total").empty());
  t.advance(1ms);
  ASSERT_EQ(t.emitted("total").size(), 2U);
  ASSERT_EQ(errors.size(), 2U);
  EXPECT_NE(errors[0].find("timeout"), std::string::npos) << errors[0];
  EXPECT_EQ(t.sent_requests("quote")[0].state, SentRequest::State::kTimedOut);
  EXPECT_EQ(t.counters("quotes").dropped, 2U);
}

TEST(TestingRequests, ServeAnswersEveryRequestAfterTheSendingCodeReturns) {
  auto t = TestNode::from_yaml(kTopology, "shopper", quiet());
  std::vector<std::string> errors;
  int replies_inside_handler = 0;
  bool in_handler = false;
  t.node().on<Ask>("in", [&](const Ask& a) {
    in_handler = true;
    t.node().request<Quote>("quote", a, [&, sku = a.sku](const Reply<Quote>& r) {
      replies_inside_handler += in_handler ? 1 : 0;
      if (!r.ok()) errors.push_back(r.error());
      t.node().emit("total", Quote{sku, r.ok() ? r.value().cents : -1});
    });
    in_handler = false;
  });
  t.serve<Ask, Quote>("quote", [](const Ask& a) {
    if (a.sku == "none") throw Error("no such sku");
    return Quote{a.sku, 10 * a.quantity};
  });
  t.start();
  (void)t.send("in", Ask{"tea", 4});
  (void)t.send("in", Ask{"none", 1});
  EXPECT_EQ(replies_inside_handler, 0);
  const auto totals = t.emitted_as<Quote>("total");
  ASSERT_EQ(totals.size(), 2U);
  EXPECT_EQ(totals[0].cents, 40);
  EXPECT_EQ(totals[1].cents, -1);
  EXPECT_EQ(errors, std::vector<std::string>{"no such sku"});
}

// Two TestNodes chained: the shopper's request answered by the real quoter under test.
TEST(TestingRequests, TwoNodesUnderTestTalkThroughTheTest) {
  auto quoter = TestNode::from_yaml(kTopology, "quoter", quiet());
  wire_quoter(quoter.node());
  quoter.start();
  auto shopper = TestNode::from_yaml(kTopology, "shopper", quiet());
  std::vector<std::string> errors;
  wire_shopper(shopper.node(), errors);
  shopper.start();
  (void)shopper.send("in", Ask{"tea", 2});
  const SentRequest& asked = shopper.sent_requests("quote").at(0);
  const auto& served = quoter.request_raw("quote", asked.envelope.payload, asked.envelope.type);
  ASSERT_TRUE(served.answered);
  shopper.reply_raw(asked, served.reply.payload, served.reply.type);
  EXPECT_EQ(shopper.emitted_as<Quote>("total").at(0).cents, 300);
  EXPECT_TRUE(errors.empty());
}

}  // namespace
}  // namespace brook
