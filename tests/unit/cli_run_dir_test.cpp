// The run directory of a launch (brook up -d): its lock, the choice the tools make, and the
// arguments of brook scale and brook logs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <brook/error.hpp>
#include <filesystem>
#include <fstream>

#include "launch/run_dir.hpp"

namespace brook::launch {
namespace {

namespace fs = std::filesystem;

class RunDirTest : public ::testing::Test {
 protected:
  RunDirTest() {
    char tmpl[] = "/tmp/brook-run-dir-test-XXXXXX";
    base_ = ::mkdtemp(tmpl);
  }
  ~RunDirTest() override { fs::remove_all(base_); }
  fs::path base_;
};

TEST_F(RunDirTest, HoldsItsLockAndRefusesASecondLaunch) {
  const fs::path dir = default_run_dir("shop", base_);
  EXPECT_EQ(dir, base_ / ".brook-run" / "shop");
  EXPECT_FALSE(running_launcher(dir));
  {
    RunDir held(dir);
    EXPECT_EQ(running_launcher(dir), ::getpid());
    try {
      RunDir second(dir);
      FAIL() << "a second launch took a held run directory";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("a launch is already running in " + dir.string() +
                                           " (brook up, pid " + std::to_string(::getpid()) + ")"),
                std::string::npos)
          << e.what();
    }
    std::ofstream(held.instance_log("sink.0")) << "old\n";
  }
  EXPECT_FALSE(running_launcher(dir)) << "the lock goes with the launch";
  EXPECT_FALSE(fs::exists(dir / "brook.pid"));
  EXPECT_TRUE(fs::exists(dir / "logs" / "sink.0.log")) << "logs stay after the stop";
  RunDir next(dir);
  EXPECT_FALSE(fs::exists(dir / "logs" / "sink.0.log")) << "the next launch starts them over";
}

TEST_F(RunDirTest, ToolsPickTheOnlyLaunchOrAskWhichOne) {
  EXPECT_EQ(choose_run_dir(base_ / "x", std::nullopt, base_), base_ / "x");
  EXPECT_EQ(choose_run_dir(std::nullopt, "shop", base_), base_ / ".brook-run" / "shop");
  EXPECT_THROW(choose_run_dir(std::nullopt, std::nullopt, base_), UsageError);
  RunDir shop(default_run_dir("shop", base_));
  EXPECT_EQ(choose_run_dir(std::nullopt, std::nullopt, base_), base_ / ".brook-run" / "shop");
  RunDir minimal(default_run_dir("minimal", base_));
  try {
    (void)choose_run_dir(std::nullopt, std::nullopt, base_);
    FAIL() << "two launches, no choice";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("pass --topology FILE or --run-dir DIR"),
              std::string::npos)
        << e.what();
  }
}

TEST(RunDirArguments, ScaleAndInstanceForms) {
  EXPECT_EQ(parse_scale("relay=4"), std::make_pair(std::string("relay"), 4));
  EXPECT_THROW(parse_scale("relay"), UsageError);
  EXPECT_THROW(parse_scale("relay="), UsageError);
  EXPECT_THROW(parse_scale("=3"), UsageError);
  EXPECT_THROW(parse_scale("relay=x"), UsageError);
  EXPECT_THROW(parse_scale("relay=0"), UsageError);
  EXPECT_EQ(parse_instance("relay").first, "relay");
  EXPECT_FALSE(parse_instance("relay").second);
  EXPECT_EQ(parse_instance("relay.2").first, "relay");
  EXPECT_EQ(parse_instance("relay.2").second, 2u);
  EXPECT_EQ(parse_instance("relay.x").first, "relay.x");
  EXPECT_THROW(parse_instance(""), UsageError);
}

}  // namespace
}  // namespace brook::launch
