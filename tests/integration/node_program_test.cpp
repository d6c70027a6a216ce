// A brook::Node made from the command line, as a user's main() makes it: the library leaves the
// program's process-wide handlers alone, and still ends a configuration mistake with exit 2.
#include <gtest/gtest.h>

#include <brook/node.hpp>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace brook::test {
namespace {

void programs_own_terminate() {
  std::abort();
}

class NodeProgram : public ::testing::Test {
 protected:
  NodeProgram() {
    file_ = dir_.write("topology.yaml", R"(
topology: program
directory: {endpoints: ['tcp://127.0.0.1:1']}
channels: {work: {external: true}, results: {external: true}}
nodes:
  sink: {exec: brook-test-sink, inputs: {in: work}, outputs: {out: results}}
)");
    args_ = {"sink", "--topology", file_.string(), "--node", "sink", "--instance", "0"};
    for (auto& a : args_)
      argv_.push_back(a.data());
    argv_.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(argv_.size()) - 1; }
  char** argv() { return argv_.data(); }

  TempDir dir_;
  std::filesystem::path file_;
  std::vector<std::string> args_;
  std::vector<char*> argv_;
};

TEST_F(NodeProgram, KeepsTheProgramsTerminateHandler) {
  std::set_terminate(programs_own_terminate);
  {
    Node node(argc(), argv());
    EXPECT_EQ(std::get_terminate(), &programs_own_terminate);
  }
  EXPECT_EQ(std::get_terminate(), &programs_own_terminate);
}

TEST_F(NodeProgram, APortItLacksEndsTheProcessWithExit2) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        Node node(argc(), argv());
        (void)node.output<std::string>("typo");
      },
      ::testing::ExitedWithCode(2), "error: node 'sink' has no output port 'typo'");
  EXPECT_EXIT(
      {
        Node node(argc(), argv());
        node.on("typo", [](const Message&) {});
      },
      ::testing::ExitedWithCode(2), "has no input port 'typo'");
  EXPECT_EXIT(
      {
        Node node(argc(), argv());
        node.run();  // 'in' has no handler
      },
      ::testing::ExitedWithCode(2), "has no handler");
}

// Made from NodeOptions (a test, an embedding program), the node throws as documented.
TEST_F(NodeProgram, FromOptionsTheErrorIsThrown) {
  NodeOptions o;
  o.topology = file_;
  o.node = "sink";
  o.handle_signals = false;
  Node node(o);
  EXPECT_THROW(node.on("typo", [](const Message&) {}), ConfigError);
  EXPECT_THROW((void)node.output<std::string>("typo"), ConfigError);
}

}  // namespace
}  // namespace brook::test
