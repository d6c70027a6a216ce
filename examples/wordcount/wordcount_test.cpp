// The wordcount nodes under brook::testing: their own wiring on the real topology, no processes.
#include "wordcount.hpp"

#include <gtest/gtest.h>

#include <brook/testing.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

using brook::testing::Outcome;
using brook::testing::TestNode;
using namespace std::chrono_literals;
using namespace wordcount;

const std::filesystem::path kTopology =
    std::filesystem::path(WORDCOUNT_SOURCE_DIR) / "wordcount.yaml";

TEST(Words, AreCounted) {
  EXPECT_EQ(count_words(""), 0u);
  EXPECT_EQ(count_words("  brooks carry\twork "), 3u);
  EXPECT_EQ(count_words(line_text(6)), 7u);
}

TEST(Counter, CountsEachLineKeyedByItsId) {
  TestNode t =
      TestNode::from_file(kTopology, "counter", brook::testing::TestOptions().with_instance(1));
  wire_counter(t.node());
  t.start();
  EXPECT_EQ(t.send("in", Line{7, "a b c"}).outcome, Outcome::kHandled);
  const auto counts = t.emitted_as<Count>("out");
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0].id, 7u);
  EXPECT_EQ(counts[0].words, 3u);
  EXPECT_EQ(counts[0].counter, "counter.1");
  EXPECT_EQ(t.emitted("out")[0].key(), "7");
  t.send("in", Line{8, "brooks carry"});
  EXPECT_EQ(t.counter("words"), 5u) << "the words of both lines, for brook stats";
}

TEST(Counter, AMessageOfAnotherTypeIsUndecodableAndNeverCounted) {
  TestNode t = TestNode::from_file(
      kTopology, "counter", brook::testing::TestOptions().with_log_level(brook::LogLevel::kOff));
  wire_counter(t.node());
  t.start();
  EXPECT_EQ(t.send("in", std::string("not a line")).outcome, Outcome::kUndecodable);
  // A Count converts to a Line (msgpack fills `text` with ""), so only its type gives it away:
  // without the type check it would be counted as an empty line.
  const brook::testing::Delivery& d = t.send("in", Count{7, 3, "counter.0"});
  EXPECT_EQ(d.outcome, Outcome::kUndecodable);
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_NE(d.errors[0].find("message of type 'wordcount.Count' on port 'in', which takes "
                             "'wordcount.Line'"),
            std::string::npos)
      << d.errors[0];
  EXPECT_EQ(t.counters("lines").decode_errors, 2u);
  EXPECT_TRUE(t.emitted("out").empty());
}

TEST(Source, SendsEveryLineOnceThenStops) {
  TestNode t = TestNode::from_file(
      kTopology, "source", brook::testing::TestOptions().with_override("source.params.lines=250"));
  wire_source(t.node());
  t.start();
  t.advance(1ms);
  EXPECT_EQ(t.emitted("out").size(), 100u) << "a burst per millisecond";
  EXPECT_FALSE(t.stop_requested());
  t.advance(2ms);
  const auto lines = t.emitted_as<Line>("out");
  ASSERT_EQ(lines.size(), 250u);
  for (std::uint64_t i = 0; i < lines.size(); ++i)
    EXPECT_EQ(lines[i].id, i + 1);
  EXPECT_TRUE(t.stop_requested());
}

TEST(Tally, ReportsEachLineWithTheTimesItArrived) {
  const auto report = std::filesystem::temp_directory_path() / "wordcount_test_report.txt";
  TestNode t = TestNode::from_file(
      kTopology, "tally",
      brook::testing::TestOptions().with_override("tally.params.report=" + report.string()));
  Tally tally;
  wire_tally(t.node(), tally);
  t.start();
  t.send("in", Count{2, 5, "counter.0"});
  t.send("in", Count{1, 3, "counter.1"});
  t.send("in", Count{2, 5, "counter.1"});  // counted twice upstream: reported, not added
  EXPECT_EQ(tally.words(), 8u);
  EXPECT_EQ(t.gauge("lines"), 2) << "distinct lines, for brook stats";
  t.stop();
  std::ifstream in(report);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "1 1 3\n2 2 5\n");
  std::filesystem::remove(report);
}

TEST(Tally, AnswersQueriesAboutTheLinesItHasSeen) {
  TestNode t = TestNode::from_file(
      kTopology, "tally", brook::testing::TestOptions().with_log_level(brook::LogLevel::kOff));
  Tally tally;
  wire_tally(t.node(), tally);
  t.start();
  t.send("in", Count{4, 2, "counter.0"});
  t.send("in", Count{4, 2, "counter.1"});
  const brook::Reply<LineSeen> seen = t.request("query", Query{4}).reply_as<LineSeen>();
  ASSERT_TRUE(seen.ok()) << seen.error();
  EXPECT_EQ(seen.value().times, 2u);
  EXPECT_EQ(seen.value().words, 2u);
  const brook::Reply<LineSeen> unseen = t.request("query", Query{5}).reply_as<LineSeen>();
  EXPECT_EQ(unseen.error(), "line 5 has not arrived (yet)");
}

}  // namespace
