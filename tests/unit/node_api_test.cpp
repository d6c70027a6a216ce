// The Node API in-process: command line, configuration errors a user makes, emit policies when
// consumers cannot take messages. No directory is running, so nothing is ever connected and every
// message is held: exactly the situation the on_full policies are for.
#include <gtest/gtest.h>
#include <unistd.h>

#include <brook/node.hpp>
#include <sstream>
#include <thread>

#include "support/process.hpp"

namespace brook {
namespace {

using namespace std::chrono_literals;

constexpr const char* kTopology = R"(
topology: api
directory: {endpoints: ["tcp://127.0.0.1:1"]}
channels:
  work: {pattern: pipeline, max_pending: 5, on_full: ON_FULL, block_timeout: 200ms, max_message_size: 1KiB}
nodes:
  source:
    exec: brook-test-source
    outputs: {out: work}
    params: {rate: 7, name: x, nested: {deep: 3}}
  sink:
    exec: brook-test-sink
    replicas: 2
    inputs: {in: work}
)";

class NodeApi : public ::testing::Test {
 protected:
  std::filesystem::path topology(const std::string& on_full = "fail") {
    std::string t = kTopology;
    t.replace(t.find("ON_FULL"), 7, on_full);
    return dir_.write("api.yaml", t);
  }
  NodeOptions options(const std::string& node, const std::string& on_full = "fail") {
    NodeOptions o;
    o.topology = topology(on_full);
    o.node = node;
    o.handle_signals = false;
    o.log_level = LogLevel::kError;
    o.drain_timeout = 100ms;  // nothing will ever flush: do not wait long for it
    return o;
  }
  test::TempDir dir_;
};

TEST_F(NodeApi, ParsesTheCommandLine) {
  const char* argv[] = {
      "n",     "--topology",      "t.yaml",    "--node",      "sink",      "--instance",
      "1",     "--directory",     "tcp://h:1", "--directory", "tcp://h:2", "--set",
      "a.b=1", "--ready-timeout", "2s",        "--log-level", "warn"};
  std::ostringstream out;
  auto o = NodeOptions::parse(static_cast<int>(std::size(argv)), argv, out);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->node, "sink");
  EXPECT_EQ(o->instance, 1u);
  EXPECT_EQ(o->directory, (std::vector<std::string>{"tcp://h:1", "tcp://h:2"}));
  EXPECT_EQ(o->overrides, std::vector<std::string>{"a.b=1"});
  EXPECT_EQ(o->ready_timeout, 2000ms);
  EXPECT_EQ(o->log_level, LogLevel::kWarn);
}

TEST_F(NodeApi, HelpAndUsageErrors) {
  std::ostringstream out;
  const char* help[] = {"n", "--help"};
  EXPECT_FALSE(NodeOptions::parse(2, help, out));
  EXPECT_NE(out.str().find("--topology"), std::string::npos);

  const char* missing[] = {"n", "--topology", "t.yaml"};
  try {
    (void)NodeOptions::parse(3, missing, out);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--node is required");
  }
  const char* bad_level[] = {"n", "--topology", "t", "--node", "x", "--log-level", "loud"};
  EXPECT_THROW((void)NodeOptions::parse(7, bad_level, out), UsageError);
  const char* bad_duration[] = {"n", "--topology", "t", "--node", "x", "--ready-timeout", "soon"};
  EXPECT_THROW((void)NodeOptions::parse(7, bad_duration, out), UsageError);
  const char* unknown[] = {"n", "--topology", "t", "--node", "x", "--frobnicate"};
  EXPECT_THROW((void)NodeOptions::parse(6, unknown, out), UsageError);
}

ProgramOptions client_options() {
  ProgramOptions own("client options");
  own.add<std::uint64_t>("baskets", "baskets to send")
      .add<std::int32_t>("offset", "shift")
      .add<double>("rate", "per second")
      .add<std::string>("run", "id prefix")
      .add<std::chrono::milliseconds>("pause", "between baskets")
      .add<bool>("dry-run", "plan only");
  return own;
}

std::optional<NodeOptions> parse_with(const ProgramOptions& own, std::vector<const char*> extra,
                                      std::ostream& out) {
  std::vector<const char*> argv{"client", "--topology", "t.yaml", "--node", "client"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return NodeOptions::parse(static_cast<int>(argv.size()), argv.data(), out, &own);
}

std::string usage_error(const ProgramOptions& own, std::vector<const char*> extra) {
  std::ostringstream out;
  try {
    (void)parse_with(own, std::move(extra), out);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "no error";
}

TEST_F(NodeApi, ProgramOptionsAreTypedAndCheckedWhileParsing) {
  const ProgramOptions own = client_options();
  std::ostringstream out;
  auto o = parse_with(own,
                      {"--baskets", "12", "--offset", "-3", "--rate", "2.5", "--run", "r1",
                       "--pause", "250ms", "--dry-run"},
                      out);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->own.get<std::uint64_t>("baskets"), 12u);
  EXPECT_EQ(o->own.get<std::uint32_t>("baskets"), 12u) << "any unsigned type the value fits";
  EXPECT_EQ(o->own.get<int>("offset"), -3);
  EXPECT_EQ(o->own.get<double>("rate"), 2.5);
  EXPECT_EQ(o->own.get<std::string>("run"), "r1");
  EXPECT_EQ(o->own.get<std::chrono::milliseconds>("pause"), 250ms);
  EXPECT_EQ(o->own.get<bool>("dry-run"), true);

  auto none = parse_with(own, {}, out);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->own.get<std::uint64_t>("baskets"), std::nullopt);
  EXPECT_EQ(none->own.get<bool>("dry-run"), std::nullopt);

  EXPECT_EQ(usage_error(own, {"--baskets", "ten"}),
            "--baskets: expected a non-negative integer, got 'ten'");
  EXPECT_EQ(usage_error(own, {"--baskets", "-1"}),
            "--baskets: expected a non-negative integer, got '-1'");
  EXPECT_EQ(usage_error(own, {"--rate", "fast"}), "--rate: expected a number, got 'fast'");
  EXPECT_EQ(usage_error(own, {"--pause", "soon"}),
            "--pause: expected a duration like 250ms or 2s, got 'soon'");
  EXPECT_EQ(usage_error(own, {"--offset", "1.5"}), "--offset: expected an integer, got '1.5'");
}

TEST_F(NodeApi, ProgramOptionsAreReadWithTheirDeclaredType) {
  const ProgramOptions own = client_options();
  std::ostringstream out;
  auto o = parse_with(own, {"--baskets", "300", "--offset", "-3"}, out);
  ASSERT_TRUE(o);
  try {
    (void)o->own.get<std::string>("baskets");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(),
                 "--baskets is declared as unsigned integer but read as string; read it with the "
                 "type it was declared with");
  }
  EXPECT_THROW((void)o->own.get<std::string>("rate"), UsageError) << "even when not given";
  EXPECT_THROW((void)o->own.get<std::uint64_t>("colour"), UsageError) << "undeclared";
  EXPECT_THROW((void)o->own.get<std::uint8_t>("baskets"), UsageError) << "300 does not fit";
  EXPECT_EQ(o->own.get<std::int8_t>("offset"), -3) << "any signed type the value fits";
}

TEST_F(NodeApi, ProgramOptionsAppearInHelpAndMustNotClash) {
  const ProgramOptions own = client_options();
  std::ostringstream out;
  EXPECT_FALSE(parse_with(own, {"--help"}, out));
  EXPECT_NE(out.str().find("client options"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("--baskets arg"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("baskets to send (unsigned integer)"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("--dry-run"), std::string::npos) << out.str();

  ProgramOptions clash;
  clash.add<std::string>("node", "oops");
  EXPECT_EQ(usage_error(clash, {}),
            "program option '--node' is also a node option; give it another name");
  ProgramOptions twice;
  twice.add<bool>("x", "");
  EXPECT_THROW(twice.add<bool>("x", ""), UsageError);
  EXPECT_THROW(twice.add<bool>("has space", ""), UsageError);
  EXPECT_THROW(twice.add<bool>("", ""), UsageError);
}

TEST_F(NodeApi, UnknownNodeInstanceOrPortIsAConfigError) {
  try {
    Node n(options("nope"));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("node 'nope' is not in topology 'api'"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("nodes: source, sink"), std::string::npos) << e.what();
  }
  auto o = options("sink");
  o.instance = 2;
  try {
    Node n(o);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("node 'sink' has 2 replicas"), std::string::npos)
        << e.what();
  }
  Node sink(options("sink"));
  try {
    sink.on("wrong", [](const Message&) {});
    FAIL();
  } catch (const ConfigError& e) {
    // The node's line in the file: `sink:` is line 11 of kTopology.
    EXPECT_NE(
        std::string(e.what()).find("node 'sink' has no input port 'wrong' in " +
                                   (dir_.path() / "api.yaml").string() + ":11:3 (inputs: in)"),
        std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("brook::optional_port"), std::string::npos) << e.what();
  }
  // run() refuses to start with an input that has no handler.
  EXPECT_THROW(sink.run(), ConfigError);
}

TEST_F(NodeApi, AnOutputHandleIsCheckedWhenAskedFor) {
  Node n(options("source"));
  try {
    (void)n.output<int>("outt");
    FAIL() << "a misnamed output must fail before run(), not at its first emit";
  } catch (const ConfigError& e) {
    EXPECT_NE(
        std::string(e.what()).find("node 'source' has no output port 'outt' in " +
                                   (dir_.path() / "api.yaml").string() + ":7:3 (outputs: out)"),
        std::string::npos)
        << e.what();
  }
  const Output<int> audit = n.output<int>("audit", optional_port);
  EXPECT_FALSE(audit.bound());
  const Output<int> unset;
  EXPECT_FALSE(unset.bound());
  const Output<int> out = n.output<int>("out", optional_port);
  ASSERT_TRUE(out.bound()) << "a port the topology gives is bound, optional or not";
  EXPECT_THROW(out.emit(1), ConfigError) << "emit before run(), as Node::emit";
  n.after(0ms, [&] {
    out.emit(1);
    out.emit(2, with_key("k"));
    audit.emit(3);  // nothing: the topology gives the node no 'audit' port
    n.stop();
  });
  EXPECT_EQ(n.run(), 1);  // held messages were never delivered
  EXPECT_EQ(n.counters().channels.at("work").emitted, 2u);
  EXPECT_EQ(n.counters().channels.size(), 1u) << "an unbound handle is counted nowhere";
}

TEST_F(NodeApi, OptionalInputsAreRegisteredOnlyWhenTheTopologyGivesThem) {
  Node sink(options("sink"));
  int typed = 0;
  sink.on<int>(
      "audit", [&](int) { ++typed; }, optional_port);
  sink.on(
      "audit", [](const Message&) {}, optional_port);
  EXPECT_THROW(sink.on<int>("audit", [](int) {}), ConfigError) << "not optional: an error";
  sink.on<int>(
      "in", [](int) {}, also_accept({"legacy.Int"}).optional());
  EXPECT_THROW(sink.on(
                   "in", [](const Message&) {}, optional_port),
               ConfigError)
      << "optional does not mean a second handler";
}

TEST_F(NodeApi, ParamsAndIdentity) {
  Node n(options("source"));
  EXPECT_EQ(n.params().get<int>("rate"), 7);
  EXPECT_EQ(n.params().get<int>("nested.deep"), 3);
  EXPECT_EQ(n.params().get<int>("absent", 9), 9);
  EXPECT_THROW((void)n.params().get<int>("name"), ConfigError);
  EXPECT_EQ(n.instance_name(), "source.0");
  EXPECT_EQ(n.producer_id().rfind("source.0@", 0), 0u);
  EXPECT_EQ(n.producer_id().size(), std::string("source.0@").size() + 16);
}

TEST_F(NodeApi, EmitOutsideTheLoopIsRefused) {
  Node n(options("source"));
  EXPECT_THROW(n.emit("out", 1), ConfigError);
  EXPECT_THROW(n.emit("no-such-port", 1), ConfigError);
}

TEST_F(NodeApi, OnFullFailRejectsOnceThePendingQueueIsFull) {
  Node n(options("source", "fail"));
  int accepted = 0;
  std::string error;
  n.after(0ms, [&] {
    try {
      for (int i = 0; i < 10; ++i) {
        n.emit("out", i);
        ++accepted;
      }
    } catch (const BackpressureError& e) {
      error = e.what();
    }
    n.stop();
  });
  EXPECT_EQ(n.run(), 1);  // held messages were never delivered
  EXPECT_EQ(accepted, 5) << "max_pending is 5 and no consumer is connected";
  EXPECT_NE(error.find("on_full is fail"), std::string::npos) << error;
  const auto& c = n.counters().channels.at("work");
  EXPECT_EQ(c.emitted, 5u);
  EXPECT_EQ(c.backpressure, 1u);
  EXPECT_EQ(c.pending, 5u);
}

TEST_F(NodeApi, OnFullDropCountsEveryDrop) {
  Node n(options("source", "drop"));
  n.after(0ms, [&] {
    for (int i = 0; i < 12; ++i)
      n.emit("out", i);
    n.stop();
  });
  EXPECT_EQ(n.run(), 1);  // held messages were never delivered
  const auto& c = n.counters().channels.at("work");
  EXPECT_EQ(c.emitted, 12u);
  EXPECT_EQ(c.dropped, 7u);
  EXPECT_EQ(c.pending, 5u);
}

TEST_F(NodeApi, OnFullBlockGivesUpAfterBlockTimeout) {
  Node n(options("source", "block"));
  std::chrono::milliseconds blocked{0};
  bool threw = false;
  n.after(0ms, [&] {
    for (int i = 0; i < 5; ++i)
      n.emit("out", i);
    const auto start = std::chrono::steady_clock::now();
    try {
      n.emit("out", 5);
    } catch (const BackpressureError&) {
      threw = true;
    }
    blocked = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    n.stop();
  });
  EXPECT_EQ(n.run(), 1);  // held messages were never delivered
  EXPECT_TRUE(threw);
  EXPECT_GE(blocked, 200ms);
  EXPECT_LT(blocked, 2000ms);
}

TEST_F(NodeApi, OversizedMessagesAreRefusedAtEmit) {
  Node n(options("source"));
  std::string error;
  n.after(0ms, [&] {
    try {
      n.emit("out", std::string(2000, 'x'));
    } catch (const MessageTooLarge& e) {
      error = e.what();
    }
    n.stop();
  });
  EXPECT_EQ(n.run(), 0);
  EXPECT_NE(error.find("exceeds max_message_size 1024"), std::string::npos) << error;
  EXPECT_EQ(n.counters().channels.at("work").emitted, 0u);
}

TEST_F(NodeApi, StopFromAnotherThreadEndsRun) {
  Node n(options("source"));
  std::thread stopper([&] {
    std::this_thread::sleep_for(100ms);
    n.stop();
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(n.run(), 0);
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_F(NodeApi, TimersRunInOrderAndCanBeCancelled) {
  Node n(options("source"));
  std::vector<int> order;
  int ticks = 0;
  TimerId periodic = 0;
  n.after(30ms, [&] { order.push_back(2); });
  n.after(10ms, [&] { order.push_back(1); });
  periodic = n.every(5ms, [&] {
    if (++ticks == 3) n.cancel(periodic);
  });
  n.after(80ms, [&] { n.stop(); });
  EXPECT_EQ(n.run(), 0);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(ticks, 3);
}

TEST_F(NodeApi, ATimerThatStopsTheNodeNeverFiresAgain) {
  Node n(options("sink"));  // an input: the shutdown drain runs the loop for a while
  n.on("in", [](const Message&) {});
  int ticks = 0;
  n.every(1ms, [&] {
    if (++ticks == 5) n.stop();
  });
  EXPECT_EQ(n.run(), 0);
  EXPECT_EQ(ticks, 5);
}

TEST_F(NodeApi, UndeliveredMessagesAtStopMakeTheExitStatusOne) {
  Node n(options("source", "drop"));
  n.after(0ms, [&] {
    for (int i = 0; i < 3; ++i)
      n.emit("out", i);  // held: no consumer is ever connected
    n.stop();
  });
  EXPECT_EQ(n.run(), 1);
}

TEST_F(NodeApi, PostHandsWorkFromAnotherThreadToTheLoopInOrder) {
  Node n(options("source"));
  std::vector<int> order;
  std::thread::id ran_on;
  n.post([&] { order.push_back(0); });  // before run(): kept until the loop runs
  std::thread::id loop;
  std::thread producer;
  n.after(0ms, [&] {
    loop = std::this_thread::get_id();
    producer = std::thread([&] {
      for (int i = 1; i <= 100; ++i)
        n.post([&order, i] { order.push_back(i); });
      n.post([&] {
        ran_on = std::this_thread::get_id();
        n.stop();
      });
    });
  });
  EXPECT_EQ(n.run(), 0);
  producer.join();
  ASSERT_EQ(order.size(), 101u);
  for (int i = 0; i <= 100; ++i)
    EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(ran_on, loop);
}

TEST_F(NodeApi, EmitFromAnotherThreadIsRefusedWithTheFix) {
  Node n(options("source"));
  std::string error;
  n.after(0ms, [&] {
    std::thread other([&] {
      try {
        n.emit("out", 1);
      } catch (const ConfigError& e) {
        error = e.what();
      }
    });
    other.join();
    n.stop();
  });
  EXPECT_EQ(n.run(), 0);
  EXPECT_NE(error.find("node.post()"), std::string::npos) << error;
}

TEST_F(NodeApi, AWatchedFdIsReadOnTheLoopThread) {
  Node n(options("source"));
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::string got;
  WatchId id = 0;
  id = n.watch(fds[0], kReadable, [&](short events) {
    EXPECT_EQ(events, kReadable);
    char buf[64];
    const ssize_t r = ::read(fds[0], buf, sizeof buf);
    if (r > 0) got.append(buf, static_cast<std::size_t>(r));
    if (got.size() >= 6) {
      n.unwatch(id);
      n.stop();
    }
  });
  std::thread writer([&] {
    (void)!::write(fds[1], "abc", 3);
    (void)!::write(fds[1], "def", 3);
  });
  n.after(5s, [&] { n.stop(); });  // bound the test if the watch never fires
  EXPECT_EQ(n.run(), 0);
  writer.join();
  EXPECT_EQ(got, "abcdef");
  ::close(fds[0]);
  ::close(fds[1]);
}

}  // namespace
}  // namespace brook
