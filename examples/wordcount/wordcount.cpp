#include "wordcount.hpp"

#include <fstream>
#include <memory>
#include <sstream>

namespace wordcount {

std::uint64_t count_words(std::string_view text) {
  std::uint64_t words = 0;
  bool in_word = false;
  for (char c : text) {
    const bool space = c == ' ' || c == '\t' || c == '\n';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

std::string line_text(std::uint64_t id) {
  static constexpr std::string_view kWords[] = {"brooks", "carry",  "work",   "without",
                                                "a",      "broker", "between"};
  std::string text;
  for (std::uint64_t i = 0; i <= id % 7; ++i) {
    if (!text.empty()) text += ' ';
    text += kWords[(id + i) % 7];
  }
  return text;
}

void Tally::add(const Count& c) {
  Seen& s = seen_[c.id];
  if (++s.times > 1) {
    ++duplicates_;
    return;
  }
  s.words = c.words;
  words_ += c.words;
}

LineSeen Tally::seen(std::uint64_t id) const {
  const auto it = seen_.find(id);
  if (it == seen_.end()) return LineSeen{id, 0, 0};
  return LineSeen{id, it->second.times, it->second.words};
}

std::string Tally::report() const {
  std::ostringstream out;
  for (const auto& [id, s] : seen_)
    out << id << ' ' << s.times << ' ' << s.words << '\n';
  return out.str();
}

void wire_source(brook::Node& node) {
  const auto total = node.params().get<std::uint64_t>("lines", 1000);
  const brook::Output<Line> out = node.output<Line>("out");
  auto next = std::make_shared<std::uint64_t>(1);
  node.on_ready([&node, out, total, next] {
    // A burst per millisecond, so the loop keeps serving the network between bursts.
    node.every(std::chrono::milliseconds(1), [&node, out, total, next] {
      try {
        for (int burst = 0; burst < 100 && *next <= total; ++burst, ++*next) {
          out.emit(Line{*next, line_text(*next)});
        }
      } catch (const brook::BackpressureError&) {
        return;  // consumers are behind: try again on the next tick
      }
      if (*next > total) node.stop();
    });
  });
}

void wire_counter(brook::Node& node) {
  const brook::Output<Count> out = node.output<Count>("out");
  brook::Counter words = node.counter("words");  // brook stats shows it per replica
  node.on<Line>("in", [&node, out, words](const Line& line) mutable {
    const std::uint64_t n = count_words(line.text);
    words.add(n);
    out.emit(Count{line.id, n, node.instance_name()}, brook::with_key(std::to_string(line.id)));
  });
}

void wire_tally(brook::Node& node, Tally& tally) {
  const auto report = node.params().get<std::string>("report", "");
  brook::Gauge lines = node.gauge("lines");
  node.on<Count>("in", [&tally, lines](const Count& c) mutable {
    tally.add(c);
    lines.set(static_cast<std::int64_t>(tally.lines()));
  });
  node.on_request<Query, LineSeen>(
      "query",
      [&tally](const Query& q, brook::Responder<LineSeen> r) {
        const LineSeen seen = tally.seen(q.id);
        if (seen.times == 0) {
          r.fail("line " + std::to_string(q.id) + " has not arrived (yet)");
          return;
        }
        r.reply(seen);
      },
      brook::optional_port);  // a topology may leave the query channel out
  node.on_stop([&tally, report] {
    BROOK_LOG(kInfo) << tally.lines() << " lines, " << tally.words() << " words, "
                     << tally.duplicates() << " duplicates";
    if (report.empty()) return;
    std::ofstream out(report, std::ios::trunc);
    out << tally.report();
    if (!out) BROOK_LOG(kError) << report << ": cannot write the report";
  });
}

}  // namespace wordcount
