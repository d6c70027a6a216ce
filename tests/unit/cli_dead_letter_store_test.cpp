// The dead-letter store: the node's writer keeps no letters in memory, recognises re-deliveries
// across restarts, refuses what goes beyond its cap, survives a torn line and a store moved
// aside; the CLI's reader sees what the writer wrote.
#include <gtest/gtest.h>

#include <brook/error.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "dead_letter_file.hpp"
#include "dead_letter_writer.hpp"

namespace brook::cli {
namespace {

namespace fs = std::filesystem;
using Added = DeadLetterWriter::Added;

class DeadLetterStore : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("brook-dead-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static DeadLetter letter(const std::string& producer, std::uint64_t seq) {
    DeadLetter d;
    d.producer = producer;
    d.seq = seq;
    d.channel = "work";
    d.dead_channel = "work-dead";
    d.type = "test.Job";
    d.payload = {std::byte{0x81}, std::byte{0xa1}, std::byte{'n'}, std::byte{0x07}};
    d.error = "poison";
    d.attempts = 3;
    d.node = "worker.0";
    return d;
  }
  fs::path store() const { return dir_ / "dead.jsonl"; }

  fs::path dir_;
};

TEST_F(DeadLetterStore, ARedeliveryIsStoredOnceEvenAfterARestart) {
  {
    DeadLetterWriter w(store(), 1 << 20);
    auto a = letter("source.0@x", 1);
    auto b = letter("source.0@x", 2);
    EXPECT_EQ(w.add(a), Added::kStored);
    EXPECT_EQ(w.add(b), Added::kStored);
    EXPECT_EQ(a.id, 1u);
    EXPECT_EQ(b.id, 2u);
    auto again = letter("source.0@x", 1);
    EXPECT_EQ(w.add(again), Added::kDuplicate);
  }
  DeadLetterWriter restarted(store(), 1 << 20);
  EXPECT_EQ(restarted.letters(), 2u);
  auto again = letter("source.0@x", 2);
  EXPECT_EQ(restarted.add(again), Added::kDuplicate) << "remembered from the file";
  auto next = letter("source.1@y", 2);
  EXPECT_EQ(restarted.add(next), Added::kStored);
  EXPECT_EQ(next.id, 3u) << "ids go on from the file's";

  const DeadLetterFile read(store(), false);
  ASSERT_EQ(read.all().size(), 3u);
  EXPECT_EQ(read.all()[2].producer, "source.1@y");
  EXPECT_EQ(read.all()[2].payload, letter("", 0).payload);
  EXPECT_EQ(read.skipped_lines(), 0u);
}

TEST_F(DeadLetterStore, ALetterBeyondTheCapIsRefusedUntilTheStoreIsMovedAside) {
  auto probe = letter("source.0@x", 1);
  const std::size_t line = dead_letter_line(probe).size() + 1;
  DeadLetterWriter w(store(), 3 * line + line / 2);
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    auto d = letter("source.0@x", seq);
    ASSERT_EQ(w.add(d), Added::kStored) << seq;
  }
  auto fourth = letter("source.0@x", 4);
  EXPECT_EQ(w.add(fourth), Added::kFull);
  EXPECT_EQ(w.add(fourth), Added::kFull) << "refused again, not remembered as stored";
  EXPECT_EQ(fs::file_size(store()), 3 * line) << "nothing written for a refused letter";

  fs::rename(store(), dir_ / "dead.1.jsonl");
  EXPECT_EQ(w.add(fourth), Added::kStored) << "a new store begins at the path";
  EXPECT_EQ(fourth.id, 4u);
  EXPECT_EQ(w.letters(), 1u);
  EXPECT_EQ(DeadLetterFile(store(), false).all().size(), 1u);
  EXPECT_EQ(DeadLetterFile(dir_ / "dead.1.jsonl", false).all().size(), 3u);
}

TEST_F(DeadLetterStore, ATornLastLineSpoilsOnlyItself) {
  {
    DeadLetterWriter w(store(), 1 << 20);
    auto d = letter("source.0@x", 1);
    ASSERT_EQ(w.add(d), Added::kStored);
  }
  {
    std::ofstream torn(store(), std::ios::app);
    torn << R"({"dead":{"id":2,"producer":"source.0@x","se)";  // a crash mid-append
  }
  DeadLetterWriter w(store(), 1 << 20);
  auto d = letter("source.0@x", 3);
  ASSERT_EQ(w.add(d), Added::kStored);
  EXPECT_EQ(d.id, 2u);
  const DeadLetterFile read(store(), false);
  ASSERT_EQ(read.all().size(), 2u);
  EXPECT_EQ(read.all()[1].seq, 3u);
  EXPECT_EQ(read.skipped_lines(), 1u) << "the torn line alone";
}

TEST_F(DeadLetterStore, MemoryIsBoundedByTheLettersRemembered) {
  // The writer remembers the last kRemembered letters: the oldest is forgotten past that (a
  // re-delivery comes long before), and the file keeps every letter.
  DeadLetterWriter w(store(), std::uint64_t{1} << 32);
  const std::uint64_t n = DeadLetterWriter::kRemembered + 1;
  for (std::uint64_t seq = 1; seq <= n; ++seq) {
    auto d = letter("source.0@x", seq);
    ASSERT_EQ(w.add(d), Added::kStored);
  }
  auto newest = letter("source.0@x", n);
  EXPECT_EQ(w.add(newest), Added::kDuplicate);
  auto oldest = letter("source.0@x", 1);
  EXPECT_EQ(w.add(oldest), Added::kStored) << "forgotten: the bound holds";
  EXPECT_EQ(w.letters(), n + 1);
}

TEST_F(DeadLetterStore, AStoreThatCannotBeOpenedNamesTheFile) {
  try {
    DeadLetterWriter w(dir_ / "missing" / "dead.jsonl", 1 << 20);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing/dead.jsonl"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace brook::cli
