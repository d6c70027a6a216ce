// EmitOptions::on_acknowledged under brook::testing: downstream acknowledges at once there, so the
// receipt runs at the next advance(); a handler that throws discards its emits and their
// receipts; best-effort and pubsub outputs refuse it. (The process runtime's side, a receipt
// called only once every consuming node acknowledged, is covered by tests/integration/
// amqp_bridge_test.cpp: brook-amqp-in acknowledges AMQP deliveries from its receipts.)
#include <gtest/gtest.h>

#include <brook/testing.hpp>
#include <string>

namespace brook {
namespace {

using namespace std::chrono_literals;
using testing::TestNode;

constexpr const char* kTopology = R"(
topology: receipts
channels:
  in: {pattern: pipeline, external: true}
  reliable: {pattern: pipeline}
  loose: {pattern: pipeline, delivery: best-effort}
  news: {pattern: pubsub}
nodes:
  bridge:
    exec: bridge
    inputs: {in: in}
    outputs: {out: reliable, loose: loose, news: news}
  a: {exec: a, inputs: {in: reliable}}
  b: {exec: b, inputs: {in: loose}}
  c: {exec: c, inputs: {in: news}}
)";

TestNode make() {
  return TestNode::from_yaml(kTopology, "bridge",
                             testing::TestOptions().with_log_level(LogLevel::kOff));
}

EmitOptions receipt(int& calls) {
  EmitOptions o;
  o.on_acknowledged = [&calls] { ++calls; };
  return o;
}

TEST(EmitReceipts, RunOnceOnTheLoopAfterTheEmit) {
  TestNode t = make();
  int calls = 0;
  t.node().on<std::string>("in", [](const std::string&) {});
  t.start();
  t.node().emit("out", std::string("x"), receipt(calls));
  EXPECT_EQ(calls, 0);  // not from inside emit()
  t.advance(0ms);
  EXPECT_EQ(calls, 1);
  t.advance(1s);
  EXPECT_EQ(calls, 1);
}

TEST(EmitReceipts, AHandlersReceiptRunsOnlyIfItReturned) {
  TestNode t = make();
  int calls = 0;
  t.node().on<std::string>("in", [&](const std::string& s) {
    t.node().emit("out", s, receipt(calls));
    if (s == "bad") throw Error("refused");
  });
  t.start();
  t.send("in", std::string("bad"));
  t.advance(0ms);
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(t.emitted("out").empty());
  t.send("in", std::string("good"));
  t.advance(0ms);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(t.emitted("out").size(), 1u);
}

TEST(EmitReceipts, RefusedOnOutputsThatNobodyAcknowledges) {
  TestNode t = make();
  int calls = 0;
  t.node().on<std::string>("in", [](const std::string&) {});
  t.start();
  for (const char* port : {"loose", "news"}) {
    try {
      t.node().emit(port, std::string("x"), receipt(calls));
      ADD_FAILURE() << port << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("on_acknowledged needs an at-least-once"),
                std::string::npos)
          << e.what();
    }
  }
  // Without a receipt they take the message.
  t.node().emit("loose", std::string("x"));
  EXPECT_EQ(t.emitted("loose").size(), 1u);
  t.advance(0ms);
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace brook
