// wordcount: a job sends lines of text, counters (replicated) count their words, a tally adds
// them up. The logic is plain functions; wire_* put it on a brook::Node, for main() and for
// the unit test alike.
#pragma once

#include <brook/node.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace wordcount {

struct Line {
  static constexpr std::string_view kTypeName = "wordcount.Line";
  std::uint64_t id = 0;
  std::string text;
  MSGPACK_DEFINE_MAP(id, text)
};

struct Count {
  static constexpr std::string_view kTypeName = "wordcount.Count";
  std::uint64_t id = 0;
  std::uint64_t words = 0;
  std::string counter;  // the instance that counted, e.g. "counter.1"
  MSGPACK_DEFINE_MAP(id, words, counter)
};

std::uint64_t count_words(std::string_view text);
// The text of line `id`: 1 to 7 words, so the total is known in advance.
std::string line_text(std::uint64_t id);

// A question to the tally (request channel "query"): has line `id` arrived?
struct Query {
  static constexpr std::string_view kTypeName = "wordcount.Query";
  std::uint64_t id = 0;
  MSGPACK_DEFINE_MAP(id)
};

// The tally's answer: how often line `id` arrived (more than once: a re-sent duplicate) and its
// words.
struct LineSeen {
  static constexpr std::string_view kTypeName = "wordcount.LineSeen";
  std::uint64_t id = 0;
  std::uint64_t times = 0;
  std::uint64_t words = 0;
  MSGPACK_DEFINE_MAP(id, times, words)
};

// What the tally has seen: each line id with the times it arrived and its word count.
class Tally {
 public:
  void add(const Count& c);
  std::uint64_t lines() const { return seen_.size(); }
  std::uint64_t words() const { return words_; }
  std::uint64_t duplicates() const { return duplicates_; }
  // Line `id` as seen so far; times == 0 if it has not arrived.
  LineSeen seen(std::uint64_t id) const;
  // "<id> <times> <words>\n" per line id, in order.
  std::string report() const;

 private:
  struct Seen {
    std::uint64_t times = 0;
    std::uint64_t words = 0;
  };
  std::map<std::uint64_t, Seen> seen_;
  std::uint64_t words_ = 0;
  std::uint64_t duplicates_ = 0;
};

// source (a job): sends params.lines lines on "out", then stops.
void wire_source(brook::Node& node);
// counter: a Count on "out" for each Line on "in", keyed by line id; counts the words it saw in
// its counter "words".
void wire_counter(brook::Node& node);
// tally: adds up the Counts on "in", the distinct lines in its gauge "lines"; answers Queries
// on "query" while it runs (`brook call query '{"id": 7}' --type wordcount.Query`); at stop
// writes the report to params.report (if set).
void wire_tally(brook::Node& node, Tally& tally);

}  // namespace wordcount
