// What the brook CLI says about a newcomer's usual mistakes (issue 21): everything `brook check`
// finds in one run.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/cluster.hpp"
#include "support/command.hpp"
#include "support/process.hpp"

namespace brook::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

CommandResult brook(std::vector<std::string> args,
                    const std::map<std::string, std::string>& env = {}) {
  args.insert(args.begin(), bin("brook"));
  return run_command(args, 60s, env);
}

// The lines of `text` containing `needle`.
std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream s(text);
  std::string line;
  while (std::getline(s, line)) {
    if (line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}

TEST(CliCheckReport, ShowsWarningsAlongsideErrors) {
  TempDir dir;
  // A channel typo (an error) and a program typo (a warning) in one file: a newcomer fixing the
  // first must not meet the second only on the next run.
  const fs::path file = dir.write("typos.yaml", R"(topology: typos
channels:
  ticks: {}
nodes:
  ticker: {exec: brook-example-tikcer, outputs: {out: ticks}}
  printer: {exec: brook-example-printer, inputs: {in: tick}}
)");
  const auto r = brook({"check", file.string()});
  EXPECT_EQ(r.code, 1) << r.describe();
  EXPECT_NE(r.err.find(file.string() +
                       ":6:55: error: input 'in' of node 'printer' uses undeclared channel 'tick'"),
            std::string::npos)
      << r.describe();
  EXPECT_NE(r.err.find(file.string() + ":5:18: warning: exec 'brook-example-tikcer' not found in "),
            std::string::npos)
      << r.describe();
  EXPECT_NE(r.err.find(file.string() + ": 1 error(s), 2 warning(s)"), std::string::npos)
      << r.describe() << "(the second warning: channel 'ticks' is written but not read)";

  const auto j = brook({"check", "--json", file.string()});
  EXPECT_EQ(j.code, 1) << j.describe();
  const json report = json::parse(j.out);
  EXPECT_FALSE(report["ok"].get<bool>());
  EXPECT_EQ(report["errors"].size(), 1u) << j.out;
  ASSERT_EQ(report["warnings"].size(), 2u) << j.out;
}

}  // namespace
}  // namespace brook::test
