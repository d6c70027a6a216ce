// `brook trace`'s plain logic: reading span files (one JSON object per line, as the runtime
// writes them: docs/monitoring.md, "Tracing") and drawing one trace as a tree of hops.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brook::cli {

struct SpanLine {
  std::string trace;   // 32 hex
  std::string span;    // 16 hex
  std::string parent;  // 16 hex, empty for a root
  std::string kind;    // handle | emit
  std::string node;
  std::uint32_t instance = 0;
  std::string channel;
  std::string message;  // producer:seq
  std::uint32_t attempt = 1;
  std::int64_t start_ns = 0;
  std::int64_t duration_ns = 0;
  std::string outcome;
  std::string error;
};

// nullopt for a line that is not a span object (a torn last line of a running node's file).
std::optional<SpanLine> parse_span_line(std::string_view line);

// "producer:seq", "producer/seq" (as logs print it) to "producer:seq"; nullopt if neither.
std::optional<std::string> normalize_message_id(std::string_view id);

// What to look for: a message id, or a trace id (32 hex digits or a traceparent).
struct TraceQuery {
  std::string message;  // normalized; empty when `trace` was given
  std::string trace;
};
std::optional<TraceQuery> parse_trace_query(std::string_view arg);

// The spans of the trace(s) the query names, from every *.jsonl file under `dir`. `files`
// counts the files read.
std::vector<SpanLine> find_trace(const std::filesystem::path& dir, const TraceQuery& q,
                                 std::size_t& files);

// The tree, one line per span, children under their parent in start order:
//   trace <id>: N spans over X ms
//   └─ send  source.0 → raw  source.0@ab:1
//      └─ relay.0  raw  source.0@ab:1  0.042 ms  ok
// A span whose parent is not among them starts a tree of its own ("parent ... not recorded").
// `mark`: the message id whose lines get "  ◀".
std::string render_trace(std::vector<SpanLine> spans, std::string_view mark);

}  // namespace brook::cli
