#include "topology/yaml_documents.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include <sstream>

#include "topology/yaml_shape.hpp"

namespace brook::detail {

namespace {

// Notes where each document and its root start, and builds nothing.
class DocumentMarks : public YAML::EventHandler {
 public:
  std::size_t count() const noexcept { return count_; }
  const YAML::Mark& start() const noexcept { return start_; }
  const YAML::Mark& previous_start() const noexcept { return previous_start_; }
  const YAML::Mark& second_root() const noexcept { return second_root_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    previous_start_ = start_;
    start_ = mark;
    ++count_;
    root_seen_ = false;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    node(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    node(mark);
  }
  void OnMapEnd() override {}

 private:
  void node(const YAML::Mark& mark) {
    if (root_seen_) return;
    root_seen_ = true;
    if (count_ == 2) second_root_ = mark;
  }

  std::size_t count_ = 0;
  bool root_seen_ = false;
  YAML::Mark start_ = YAML::Mark::null_mark();
  YAML::Mark previous_start_ = YAML::Mark::null_mark();
  YAML::Mark second_root_ = YAML::Mark::null_mark();
};

}  // namespace

namespace {

// A second document can only start after a line beginning with "---", "..." or a directive.
bool may_hold_more_documents(std::string_view text) {
  for (std::string_view mark : {"---", "...", "%"}) {
    if (text.starts_with(mark) || text.find("\n" + std::string(mark)) != std::string_view::npos) {
      return true;
    }
  }
  return false;
}

// Only whitespace and comments: no document at all.
bool blank(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t end = std::min(text.find('\n', i), text.size());
    const std::string_view line = text.substr(i, end - i);
    const std::size_t first = line.find_first_not_of(" \t\r");
    if (first != std::string_view::npos && line[first] != '#') return false;
    i = end + 1;
  }
  return true;
}

}  // namespace

YamlDocuments load_documents(const std::string& text) {
  YamlDocuments docs;
  try {
    // The common case in one parse: the event pass below tokenizes the whole text once more,
    // which cost every node of a 100-node topology several milliseconds of its start. A block
    // mapping at the top level ends only at the end of the text or throws at a stray token; a
    // flow root ("{a: 1},") or a null one (",") may have stopped short: the full pass says where.
    if (!may_hold_more_documents(text)) {
      docs.first = YAML::Load(text);
      const bool block_map = docs.first.IsMap() && docs.first.Style() != YAML::EmitterStyle::Flow;
      if (block_map || (docs.first.IsNull() && blank(text))) {
        docs.count = docs.first.IsNull() ? 0 : 1;
        return docs;
      }
    }
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentMarks marks;
    while (parser.HandleNextDocument(marks)) {
      // A document that consumed nothing: the parser would return the same empty one forever.
      if (marks.count() > 1 && marks.start().pos == marks.previous_start().pos) {
        const auto at = static_cast<std::size_t>(marks.start().pos);
        throw YAML::ParserException(marks.start(), at < text.size()
                                                       ? "unexpected '" + text.substr(at, 1) + "'"
                                                       : std::string("unexpected end of file"));
      }
    }
    docs.count = marks.count();
    docs.second = marks.second_root();
    if (docs.count > 0) docs.first = YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own bound on its recursion (500 levels) says only "bad file".
    throw YAML::ParserException(
        e.mark, "nested more than " + std::to_string(kMaxYamlDepth) + " levels deep");
  }
  return docs;
}

}  // namespace brook::detail
