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

YamlDocuments load_documents(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentMarks marks;
  YamlDocuments docs;
  try {
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
