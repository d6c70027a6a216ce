#include "trace_tree.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace brook::cli {

std::optional<SpanLine> parse_span_line(std::string_view line) {
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  try {
    SpanLine s;
    s.trace = j.at("trace").get<std::string>();
    s.span = j.at("span").get<std::string>();
    s.parent = j.value("parent", "");
    s.kind = j.value("kind", "handle");
    s.node = j.value("node", "");
    s.instance = j.value("instance", 0u);
    s.channel = j.value("channel", "");
    s.message = j.value("message", "");
    s.attempt = j.value("attempt", 1u);
    s.start_ns = j.value("start_ns", std::int64_t{0});
    s.duration_ns = j.value("duration_ns", std::int64_t{0});
    s.outcome = j.value("outcome", "");
    s.error = j.value("error", "");
    return s;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::optional<std::string> normalize_message_id(std::string_view id) {
  const std::size_t at = id.find_last_of(":/");
  if (at == std::string_view::npos || at == 0 || at + 1 == id.size()) return std::nullopt;
  const std::string_view seq = id.substr(at + 1);
  if (seq.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  return std::string(id.substr(0, at)) + ":" + std::string(seq);
}

namespace {

bool is_hex(std::string_view s) {
  return s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

std::optional<TraceQuery> parse_trace_query(std::string_view arg) {
  TraceQuery q;
  if (arg.size() == 32 && is_hex(arg)) {
    q.trace = std::string(arg);
    return q;
  }
  if (arg.size() == 55 && arg.substr(0, 3) == "00-" && is_hex(arg.substr(3, 32))) {
    q.trace = std::string(arg.substr(3, 32));
    return q;
  }
  if (auto m = normalize_message_id(arg)) {
    q.message = *m;
    return q;
  }
  return std::nullopt;
}

namespace {

template <class F>
std::size_t each_span(const std::filesystem::path& dir, F&& fn) {
  std::size_t files = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".jsonl") continue;
    std::ifstream in(entry.path());
    if (!in) continue;
    ++files;
    std::string line;
    while (std::getline(in, line)) {
      if (auto s = parse_span_line(line)) fn(std::move(*s));
    }
  }
  return files;
}

}  // namespace

std::vector<SpanLine> find_trace(const std::filesystem::path& dir, const TraceQuery& q,
                                 std::size_t& files) {
  std::set<std::string> traces;
  if (!q.trace.empty()) {
    traces.insert(q.trace);
  } else {
    files = each_span(dir, [&](SpanLine&& s) {
      if (s.message == q.message) traces.insert(s.trace);
    });
    if (traces.empty()) return {};
  }
  std::vector<SpanLine> out;
  files = each_span(dir, [&](SpanLine&& s) {
    if (traces.count(s.trace)) out.push_back(std::move(s));
  });
  return out;
}

namespace {

std::string millis(std::int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f ms", static_cast<double>(ns) / 1e6);
  return buf;
}

struct Drawer {
  const std::vector<SpanLine>& spans;
  std::multimap<std::string, std::size_t> children;  // parent span id -> index
  std::string_view mark;
  std::string out;

  void line(const SpanLine& s, const std::string& prefix, bool last) {
    out += prefix + (last ? "└─ " : "├─ ");
    const std::string where = s.node + "." + std::to_string(s.instance);
    if (s.kind == "emit") {
      out += "send  " + where + " → " + s.channel + "  " + s.message;
    } else {
      out += where + "  " + s.channel + "  " + s.message + "  " + millis(s.duration_ns) + "  " +
             s.outcome;
      if (s.attempt > 1) out += "  (attempt " + std::to_string(s.attempt) + ")";
      if (!s.error.empty()) out += "  error: " + s.error;
    }
    if (!mark.empty() && s.message == mark) out += "  ◀";
    out += "\n";
  }

  void draw(std::size_t i, const std::string& prefix, bool last, int depth) {
    const SpanLine& s = spans[i];
    line(s, prefix, last);
    if (depth > 64) return;  // a cycle in corrupt files must not recurse forever
    std::vector<std::size_t> kids;
    const auto [b, e] = children.equal_range(s.span);
    for (auto it = b; it != e; ++it)
      kids.push_back(it->second);
    std::sort(kids.begin(), kids.end(),
              [&](std::size_t x, std::size_t y) { return spans[x].start_ns < spans[y].start_ns; });
    for (std::size_t k = 0; k < kids.size(); ++k) {
      draw(kids[k], prefix + (last ? "   " : "│  "), k + 1 == kids.size(), depth + 1);
    }
  }
};

}  // namespace

std::string render_trace(std::vector<SpanLine> spans, std::string_view mark) {
  std::sort(spans.begin(), spans.end(), [](const SpanLine& a, const SpanLine& b) {
    return a.trace != b.trace ? a.trace < b.trace : a.start_ns < b.start_ns;
  });
  Drawer d{spans, {}, mark, {}};
  std::set<std::string> ids;
  for (const SpanLine& s : spans)
    ids.insert(s.span);
  for (std::size_t i = 0; i < spans.size(); ++i) {
    if (!spans[i].parent.empty() && ids.count(spans[i].parent) && spans[i].parent != spans[i].span)
      d.children.emplace(spans[i].parent, i);
  }
  std::string current;
  for (std::size_t i = 0; i < spans.size(); ++i) {
    const SpanLine& s = spans[i];
    if (s.trace != current) {
      current = s.trace;
      std::int64_t first = s.start_ns, end = s.start_ns;
      std::size_t n = 0;
      for (const SpanLine& t : spans) {
        if (t.trace != current) continue;
        ++n;
        first = std::min(first, t.start_ns);
        end = std::max(end, t.start_ns + t.duration_ns);
      }
      d.out += "trace " + current + ": " + std::to_string(n) + " span" + (n == 1 ? "" : "s") +
               " over " + millis(end - first) + "\n";
    }
    const bool root = s.parent.empty() || !ids.count(s.parent) || s.parent == s.span;
    if (!root) continue;
    if (!s.parent.empty() && s.parent != s.span) {
      d.out += "(parent " + s.parent + " not recorded)\n";
    }
    d.draw(i, "", true, 0);
  }
  return d.out;
}

}  // namespace brook::cli
