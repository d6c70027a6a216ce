// What the brook CLI says about a newcomer's usual mistakes (issue 21): everything `brook check`
// finds in one run, one rule and one message for a missing program in `brook check` and
// `brook up`, and a suggestion for a mistyped channel in `brook tap`, `send` and `call`.
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

class MissingPrograms : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "sub");
    file_ = dir_.write("sub/missing.yaml", R"(topology: missing
channels:
  work: {external: true}
nodes:
  bare: {exec: brook-no-such-node, inputs: {in: work}}
  relative: {exec: ./bin/no-such-node, inputs: {in: work}}
  absolute: {exec: /nonexistent/no-such-node, inputs: {in: work}}
  directory: {exec: ../sub, inputs: {in: work}}
)");
  }

  TempDir dir_;
  fs::path file_;
};

TEST_F(MissingPrograms, CheckAndUpSayTheSameAndWhereTheyLooked) {
  const std::string extra = (dir_ / "extra").string();
  const std::map<std::string, std::string> env{{"BROOK_PATH", extra}};
  const auto check = brook({"check", file_.string()}, env);
  EXPECT_EQ(check.code, 0) << check.describe();
  const auto warnings = lines_with(check.err, ": warning: exec ");
  ASSERT_EQ(warnings.size(), 4u) << check.describe();

  const std::string sub = (dir_.path() / "sub").lexically_normal().string();
  const std::string bin_dir = fs::canonical(fs::path(bin("brook")).parent_path()).string();
  EXPECT_NE(check.err.find("exec 'brook-no-such-node' not found in " + bin_dir + ", " + extra +
                           " or $PATH (hint: build it, add its directory to $BROOK_PATH (or "
                           "$PATH), or write its path with a '/' (relative to the topology "
                           "file))"),
            std::string::npos)
      << check.describe();
  EXPECT_NE(check.err.find("exec './bin/no-such-node' not found: " + sub +
                           "/bin/no-such-node does not exist (hint: a path with '/' is relative "
                           "to the topology file's directory, " +
                           sub +
                           "; fix the path, or write a bare name to search $BROOK_PATH and "
                           "$PATH)"),
            std::string::npos)
      << check.describe();
  EXPECT_NE(check.err.find("exec '/nonexistent/no-such-node' not found: /nonexistent/no-such-node "
                           "does not exist (hint: fix the path, or write a bare name"),
            std::string::npos)
      << check.describe();
  EXPECT_NE(check.err.find("exec '../sub' not found: " + sub + " is a directory"),
            std::string::npos)
      << check.describe();

  const auto up = brook({"up", file_.string()}, env);
  EXPECT_EQ(up.code, 1) << up.describe();
  EXPECT_NE(up.err.find("brook up: cannot start:"), std::string::npos) << up.describe();
  // "FILE:L:C: warning: MESSAGE (hint: HINT)" from check (at the exec) is
  // "FILE:L:C: node 'NAME': MESSAGE (hint: HINT)" from up (at the node).
  for (const auto& w : warnings) {
    const std::string said = w.substr(w.find(": warning: ") + std::string(": warning: ").size());
    EXPECT_NE(up.err.find(said), std::string::npos) << said << "\n" << up.describe();
  }
  for (const char* node : {"bare", "relative", "absolute", "directory"}) {
    EXPECT_NE(up.err.find(file_.string() + ":"), std::string::npos) << up.describe();
    EXPECT_NE(up.err.find(": node '" + std::string(node) + "': exec '"), std::string::npos)
        << node << "\n"
        << up.describe();
  }
}

TEST_F(MissingPrograms, AFileThatIsNotExecutableIsNamedSo) {
  fs::create_directories(dir_ / "sub/bin");
  const fs::path program = dir_.write("sub/bin/no-such-node", "#!/bin/sh\n");
  fs::permissions(program, fs::perms::owner_read | fs::perms::owner_write);
  const auto check = brook({"check", file_.string()});
  EXPECT_NE(check.err.find("exec './bin/no-such-node' not found: " +
                           program.lexically_normal().string() + " is not executable (chmod +x)"),
            std::string::npos)
      << check.describe();
}

TEST(CliChannelTypos, ToolsSuggestTheClosestChannelOfTheTopology) {
  TempDir dir;
  const fs::path file = dir.write("shop.yaml", R"(topology: shop
directory: {endpoints: ['tcp://127.0.0.1:9']}
channels:
  orders: {}
  quotes: {pattern: request}
nodes:
  front: {exec: brook-test-source, outputs: {out: orders, ask: quotes}}
  back: {exec: brook-test-sink, inputs: {in: orders, quotes: quotes}}
)");
  const std::vector<std::vector<std::string>> commands{
      {"tap", "ordrs", "-t", file.string()},
      {"send", "ordrs", "{}", "-t", file.string()},
      {"call", "qoutes", "{}", "-t", file.string()}};
  for (const auto& args : commands) {
    const auto r = brook(args);
    EXPECT_EQ(r.code, 1) << r.describe();
    const std::string expected = args[1] == "ordrs" ? "orders" : "quotes";
    EXPECT_NE(r.err.find("channel '" + args[1] + "' is not in topology 'shop' (" + file.string() +
                         "; did you mean '" + expected + "'? channels: orders, quotes)"),
              std::string::npos)
        << r.describe();
  }
  const auto far = brook({"tap", "inventory", "-t", file.string()});
  EXPECT_EQ(far.code, 1) << far.describe();
  EXPECT_NE(far.err.find("(" + file.string() + "; channels: orders, quotes)"), std::string::npos)
      << far.describe();
}

TEST(CliChannelTypos, ToolsSuggestTheClosestChannelTheDirectoryKnows) {
  Cluster cluster;
  cluster.start_directory();
  cluster.write_topology(R"(
topology: live
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s}
channels:
  orders: {external: true}
nodes:
  sink: {exec: brook-test-sink, inputs: {in: orders}}
)");
  auto sink = cluster.start_node("brook-test-sink", "sink");
  const auto ep = cluster.directory_endpoint();
  for (const char* tool : {"tap", "send"}) {
    std::vector<std::string> args{tool, "ordrs"};
    if (std::string(tool) == "send") args.push_back("{}");
    args.insert(args.end(), {"--directory", ep});
    const auto r = brook(args);
    EXPECT_EQ(r.code, 1) << r.describe();
    EXPECT_NE(r.err.find("channel 'ordrs' is unknown to the directory at " + ep +
                         ": no live node reads or writes it (did you mean 'orders'? live "
                         "channels: orders; check the name with brook ls, or pass --topology "
                         "FILE)"),
              std::string::npos)
        << r.describe();
  }
}

}  // namespace
}  // namespace brook::test
