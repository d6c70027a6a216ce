// The code in README.md and docs/*.md is exercised, so a document cannot drift from the code:
// every ```yaml block is a topology `brook check` accepts, and runs under `brook up` when marked
// `<!-- run: TEXT -->` (until a node prints TEXT); every ```cpp block is a program, built by
// tests/integration/CMakeLists.txt (docs_samples.awk) and started here. A block that is only a
// part is marked `<!-- fragment -->` on the line before its fence: its YAML must still parse.
#include <gtest/gtest.h>
#include <signal.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "support/command.hpp"
#include "support/process.hpp"

namespace brook::test {
namespace {

namespace fs = std::filesystem;

struct Block {
  std::string file;  // e.g. "docs/topology.md"
  int line = 0;      // of the opening fence
  std::string language;
  std::string text;
  bool fragment = false;
  std::string run_until;  // from <!-- run: TEXT -->
  int index = 0;          // among the file's whole (unmarked) blocks of its language, from 1

  std::string where() const { return file + ":" + std::to_string(line); }
};

std::string marker_value(const std::string& line, const std::string& name) {
  const std::string open = "<!-- " + name;
  if (line.rfind(open, 0) != 0) return {};
  const auto end = line.rfind("-->");
  std::string v = line.substr(open.size(), end == std::string::npos ? end : end - open.size());
  while (!v.empty() && v.back() == ' ')
    v.pop_back();
  return v.empty() ? " " : v;
}

// The same rule as docs_samples.awk: a fence opens at "```lang" in column 0 and closes at "```";
// the marker is the last non-blank line before the opening fence.
std::vector<Block> blocks_of(const std::string& relative) {
  std::ifstream in(source_path(relative));
  std::vector<Block> out;
  std::map<std::string, int> counts;
  std::string line, previous;
  std::optional<Block> open;
  for (int number = 1; std::getline(in, line); ++number) {
    if (open) {
      if (line.find_first_not_of(" \t", 3) == std::string::npos && line.rfind("```", 0) == 0) {
        out.push_back(std::move(*open));
        open.reset();
        previous.clear();
      } else {
        open->text += line + "\n";
      }
      continue;
    }
    if (line.rfind("```", 0) == 0) {
      open = Block{};
      open->file = relative;
      open->line = number;
      open->language = line.substr(3);
      open->fragment = !marker_value(previous, "fragment").empty();
      const std::string run = marker_value(previous, "run:");
      if (!run.empty()) open->run_until = run.substr(run.find_first_not_of(' '));
      if (!open->fragment) open->index = ++counts[open->language];
      continue;
    }
    if (line.find_first_not_of(" \t") != std::string::npos) previous = line;
  }
  EXPECT_FALSE(open) << relative << ": a code block is not closed";
  return out;
}

std::vector<Block> all_blocks(const std::string& language) {
  std::vector<std::string> files{"README.md"};
  for (const auto& e : fs::directory_iterator(source_path("docs"))) {
    if (e.path().extension() == ".md") files.push_back("docs/" + e.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  std::vector<Block> out;
  for (const auto& f : files) {
    for (auto& b : blocks_of(f)) {
      if (b.language == language) out.push_back(std::move(b));
    }
  }
  return out;
}

std::string stem(const std::string& file) {
  return fs::path(file).stem().string();
}

TEST(Docs, EveryTopologyChecksAndEveryFragmentParses) {
  TempDir dir;
  int whole = 0;
  for (const Block& b : all_blocks("yaml")) {
    if (b.fragment) {
      EXPECT_NO_THROW(YAML::Load(b.text)) << b.where() << ": a fragment that is not YAML";
      continue;
    }
    ++whole;
    const fs::path file = dir.write(stem(b.file) + "-" + std::to_string(b.line) + ".yaml", b.text);
    const auto r = run_command({bin("brook"), "check", file.string()}, 30s);
    EXPECT_EQ(r.code, 0) << b.where()
                         << ": not a valid topology (mark a part of one <!-- fragment -->)\n"
                         << r.describe();
  }
  EXPECT_GE(whole, 4) << "README's, sdk.md's and topology.md's topologies";
}

TEST(Docs, RunnableTopologiesRunAsWritten) {
  TempDir dir;
  int ran = 0;
  for (const Block& b : all_blocks("yaml")) {
    if (b.run_until.empty()) continue;
    ++ran;
    const fs::path file = dir.write(stem(b.file) + "-" + std::to_string(b.line) + ".yaml", b.text);
    // Only the directory's port changes, so that the test does not meet another brook on 5670.
    const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(free_port());
    Process up =
        Process::start({.argv = {bin("brook"), "up", file.string(), "--quiet", "--set",
                                 "directory={endpoints: ['" + endpoint + "']}"},
                        .env = {},
                        .log = dir / (stem(b.file) + "-" + std::to_string(b.line) + ".log"),
                        .wait_ready = true,
                        .ready_timeout = 30s});
    const bool seen =
        wait_for([&] { return up.log().find(b.run_until) != std::string::npos; }, 20s, 50ms);
    EXPECT_TRUE(seen) << b.where() << ": no '" << b.run_until << "' within 20 s\n" << up.log();
    up.signal(SIGINT);
    const auto code = up.wait(30s);
    EXPECT_EQ(code, std::optional<int>(0)) << b.where() << "\n" << up.log();
    EXPECT_EQ(up.log().find(" failed ("), std::string::npos) << b.where() << "\n" << up.log();
  }
  EXPECT_GE(ran, 2) << "README's topology and topology.md's first example";
}

TEST(Docs, EveryProgramIsBuiltAndStarts) {
  int programs = 0;
  for (const Block& b : all_blocks("cpp")) {
    if (b.fragment) continue;
    ++programs;
    const std::string exe = bin("docs-sample-" + stem(b.file) + "-" + std::to_string(b.index));
    ASSERT_TRUE(fs::exists(exe)) << b.where() << ": " << exe
                                 << " was not built (docs_samples.awk and this test disagree)";
    const auto r = run_command({exe, "--help"}, 30s);
    EXPECT_EQ(r.code, 0) << b.where() << "\n" << r.describe();
    EXPECT_NE((r.out + r.err).find("--topology"), std::string::npos) << b.where() << "\n"
                                                                     << r.describe();
  }
  EXPECT_GE(programs, 2) << "README's node and sdk.md's";
}

}  // namespace
}  // namespace brook::test
