// Typed ports: a typed handler takes only its type (and declared aliases), an output handle
// finds its port once, and optional ports may be left out by the topology. Driven through
// brook::testing, which handles each message as a node process does (runtime/handling.hpp).
#include <gtest/gtest.h>

#include <brook/testing.hpp>
#include <string>
#include <vector>

namespace brook {
namespace {

using testing::Outcome;
using testing::SendOptions;
using testing::TestNode;

struct Line {
  static constexpr std::string_view kTypeName = "wc.Line";
  std::uint64_t id = 0;
  std::string text;
  MSGPACK_DEFINE_MAP(id, text)
};

struct Word {
  static constexpr std::string_view kTypeName = "wc.Word";
  std::string text;
  MSGPACK_DEFINE_MAP(text)
};

// `lines` has a dead_letter channel, `loose` has none.
constexpr const char* kTopology = R"(topology: typed
channels:
  lines: {external: true, dead_letter: lines-dead}
  lines-dead: {}
  loose: {external: true}
  words: {}
nodes:
  splitter:
    exec: splitter
    inputs: {in: lines, loose: loose}
    outputs: {out: words}
)";

testing::TestOptions quiet() {
  return testing::TestOptions().with_log_level(LogLevel::kOff);
}

class TypedPorts : public ::testing::Test {
 protected:
  void wire(const HandlerOptions& options = {}) {
    Node& node = t_.node();
    const Output<Word> out = node.output<Word>("out");
    node.on<Line>(
        "in",
        [this, out](const Line& line) {
          lines_.push_back(line.text);
          out.emit(Word{line.text}, with_key(std::to_string(line.id)));
        },
        options);
    node.on<Line>("loose", [this](const Line& line) { lines_.push_back(line.text); });
    t_.start();
  }

  TestNode t_ = TestNode::from_yaml(kTopology, "splitter", quiet());
  std::vector<std::string> lines_;
};

TEST_F(TypedPorts, AHandlerTakesItsOwnTypeAndEmitsThroughAHandle) {
  wire();
  const testing::Delivery& d = t_.send("in", Line{7, "brooks carry"});
  EXPECT_EQ(d.outcome, Outcome::kHandled);
  EXPECT_EQ(lines_, std::vector<std::string>{"brooks carry"});
  ASSERT_EQ(t_.emitted("out").size(), 1u);
  EXPECT_EQ(t_.emitted("out")[0].envelope.type, "wc.Word");
  EXPECT_EQ(t_.emitted("out")[0].envelope.channel, "words");
  EXPECT_EQ(t_.emitted("out")[0].key(), "7");
  EXPECT_EQ(t_.emitted_as<Word>("out")[0].text, "brooks carry");
  EXPECT_EQ(t_.counters("words").emitted, 1u);
}

TEST_F(TypedPorts, AnotherTypeIsUndecodableCountedAndDeadLetteredWithTheReason) {
  wire();
  // A Word's payload converts to a Line (msgpack fills the missing fields with defaults): only
  // the envelope's type tells them apart.
  const testing::Delivery& d = t_.send("in", Word{"brooks"});
  EXPECT_EQ(d.outcome, Outcome::kDeadLettered);
  EXPECT_TRUE(lines_.empty()) << "the handler must not run";
  EXPECT_EQ(d.attempts, 1u);
  EXPECT_TRUE(d.acknowledged);
  EXPECT_FALSE(t_.next_due()) << "never retried: no attempt can fix the type";
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_EQ(d.errors[0],
            "message of type 'wc.Word' on port 'in', which takes 'wc.Line': the producer must "
            "send that type, or the handler accept it (brook::also_accept)");
  const ChannelCounters& c = t_.counters("lines");
  EXPECT_EQ(c.decode_errors, 1u);
  EXPECT_EQ(c.handler_errors, 0u);
  EXPECT_EQ(c.dead_lettered, 1u);
  ASSERT_EQ(t_.dead_letters("in").size(), 1u);
  const testing::Emitted& dl = t_.dead_letters("in")[0];
  EXPECT_EQ(dl.header("dead-letter-error"), d.errors[0]);
  EXPECT_EQ(dl.envelope.type, "wc.Word") << "dead-lettered as it came";
  EXPECT_TRUE(t_.emitted("out").empty());

  // On a channel without dead_letter: undecodable, counted, dropped.
  const testing::Delivery& loose = t_.send("loose", Word{"brooks"});
  EXPECT_EQ(loose.outcome, Outcome::kUndecodable);
  EXPECT_EQ(t_.counters("loose").decode_errors, 1u);
  EXPECT_TRUE(lines_.empty());
}

TEST_F(TypedPorts, DeclaredAliasesAreAcceptedAndNamedWhenAnotherTypeIsRefused) {
  wire(also_accept({"legacy.Line"}).also_accept({"py.Line"}));
  EXPECT_EQ(t_.send("in", Line{1, "old"}, SendOptions().with_type("legacy.Line")).outcome,
            Outcome::kHandled);
  EXPECT_EQ(t_.send("in", Line{2, "python"}, SendOptions().with_type("py.Line")).outcome,
            Outcome::kHandled);
  EXPECT_EQ(t_.send("in", Line{3, "new"}).outcome, Outcome::kHandled);
  EXPECT_EQ(lines_, (std::vector<std::string>{"old", "python", "new"}));
  const testing::Delivery& d = t_.send("in", Line{4, "x"}, SendOptions().with_type("json"));
  EXPECT_EQ(d.outcome, Outcome::kDeadLettered);
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_NE(d.errors[0].find("message of type 'json' on port 'in', which takes 'wc.Line' (and "
                             "aliases 'legacy.Line', 'py.Line')"),
            std::string::npos)
      << d.errors[0];
  EXPECT_EQ(lines_.size(), 3u);
}

TEST_F(TypedPorts, AMessageOfTheRightTypeWhosePayloadDoesNotConvertIsUndecodable) {
  wire();
  const testing::Delivery& d =
      t_.send("in", std::string("not a line"), SendOptions().with_type("wc.Line"));
  EXPECT_EQ(d.outcome, Outcome::kDeadLettered);
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_NE(d.errors[0].find("does not convert to wc.Line"), std::string::npos) << d.errors[0];
  EXPECT_TRUE(lines_.empty());
}

// Sent as a wc.Line without its text: what an older producer of the type would send.
struct LineWithoutText {
  static constexpr std::string_view kTypeName = "wc.Line";
  std::uint64_t id = 0;
  MSGPACK_DEFINE_MAP(id)
};

// A typed handler converts each message into one value it keeps (no allocation per message): a
// field the next payload lacks must read as its default, not as the previous message's.
TEST_F(TypedPorts, AFieldThePayloadLacksReadsAsItsDefaultNotAsThePreviousMessages) {
  wire();
  EXPECT_EQ(t_.send("in", Line{1, "a text longer than a short string keeps inline"}).outcome,
            Outcome::kHandled);
  EXPECT_EQ(t_.send("in", LineWithoutText{2}).outcome, Outcome::kHandled);
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_EQ(lines_[0], "a text longer than a short string keeps inline");
  EXPECT_EQ(lines_[1], "") << "the kept value was not reset between messages";
}

TEST_F(TypedPorts, AnUntypedHandlerTakesAnyType) {
  std::vector<std::string> types;
  t_.node().on("in", [&](const Message& m) { types.emplace_back(m.type()); });
  t_.node().on("loose", [](const Message&) {});
  t_.start();
  t_.send("in", Word{"a"});
  t_.send("in", Line{1, "b"});
  t_.send("in", 42, SendOptions().with_type("json"));
  EXPECT_EQ(types, (std::vector<std::string>{"wc.Word", "wc.Line", "json"}));
  EXPECT_EQ(t_.counters("lines").decode_errors, 0u);
}

TEST(TypedPortsSetup, UnknownPortsNameTheNodesLineUnlessOptional) {
  TestNode t = TestNode::from_yaml(kTopology, "splitter", quiet());
  Node& node = t.node();
  try {
    (void)node.output<Word>("words");
    FAIL() << "an unknown output port must fail when its handle is asked for";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "node 'splitter' has no output port 'words' in test.yaml:8:3 (outputs: out): map "
              "it to a channel there, or mark it optional in the code (brook::optional_port)");
  }
  try {
    node.on<Line>("lines", [](const Line&) {});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "node 'splitter' has no input port 'lines' in test.yaml:8:3 (inputs: in, loose)"),
              std::string::npos)
        << e.what();
  }

  const Output<Word> audit = node.output<Word>("audit", optional_port);
  EXPECT_FALSE(audit.bound());
  int audited = 0;
  node.on<Line>(
      "audit", [&](const Line&) { ++audited; }, optional_port);
  node.on(
      "audit-raw", [&](const Message&) { ++audited; }, optional_port);
  const Output<Word> out = node.output<Word>("out", optional_port);
  EXPECT_TRUE(out.bound());
  node.on<Line>(
      "in",
      [&](const Line& l) {
        audit.emit(Word{l.text});  // does nothing: the topology has no 'audit' port
        out.emit(Word{l.text});
      },
      optional_port);
  node.on<Line>("loose", [](const Line&) {});
  t.start();
  EXPECT_EQ(t.send("in", Line{1, "a"}).outcome, Outcome::kHandled);
  EXPECT_EQ(t.emitted("out").size(), 1u);
  EXPECT_EQ(audited, 0);
}

}  // namespace
}  // namespace brook
