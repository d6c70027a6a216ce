// A node's state store on a real file: what is committed survives a crash of the process and
// nothing else does; a handler call's changes are undone when it throws; the inbox remembers
// what each producer's messages were and stays bounded; one instance, one process.
#include "runtime/state_store.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <brook/error.hpp>
#include <cstring>

#include "support/process.hpp"

namespace brook::detail {
namespace {

namespace fs = std::filesystem;

std::span<const std::byte> bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::string value(StateTable& t, const std::string& key) {
  std::string out;
  return t.get(key, out) ? out : std::string("<none>");
}

TEST(StateStore, WhatWasCommittedSurvivesAKilledProcessAndNothingElse) {
  test::TempDir tmp;
  const fs::path file = tmp.path() / "a" / "state.sqlite";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    StateStore s(file, FsyncPolicy::kBatch);
    StateTable& t = s.table("carts");
    t.put("c1", bytes("one"));
    t.put("c2", bytes("two"));
    s.record_handled("work", "p@1", 7, 100);
    s.set_output_mark("out", 12);
    s.commit();
    t.put("c1", bytes("changed"));
    t.put("c3", bytes("three"));
    s.record_handled("work", "p@1", 8, 100);
    s.set_output_mark("out", 15);
    ::raise(SIGKILL);  // no commit, no destructor: a crash
    ::_exit(3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));

  StateStore s(file, FsyncPolicy::kBatch);
  StateTable& t = s.table("carts");
  EXPECT_EQ(value(t, "c1"), "one");
  EXPECT_EQ(value(t, "c2"), "two");
  EXPECT_EQ(value(t, "c3"), "<none>");
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(s.output_mark("out"), 12u);
  EXPECT_EQ(s.output_mark("other"), std::nullopt);
  const auto handled = s.handled("work");
  ASSERT_EQ(handled.size(), 1u);
  EXPECT_EQ(handled.at("p@1"), std::vector<std::uint64_t>{7});
  EXPECT_TRUE(s.handled("elsewhere").empty());
}

TEST(StateStore, AThrowingCallChangesNothingAndTheOthersInThePassStay) {
  StateStore s({}, FsyncPolicy::kNever);
  StateTable& t = s.table("t");
  s.begin_call();
  t.put("a", bytes("1"));
  s.end_call(true);
  s.begin_call();
  t.put("a", bytes("2"));
  t.put("b", bytes("2"));
  EXPECT_EQ(value(t, "a"), "2") << "a call reads its own writes";
  s.end_call(false);
  s.begin_call();
  EXPECT_TRUE(t.erase("a"));
  EXPECT_FALSE(t.erase("never"));
  s.end_call(false);
  s.commit();
  EXPECT_FALSE(s.in_transaction());
  EXPECT_EQ(value(t, "a"), "1");
  EXPECT_EQ(value(t, "b"), "<none>");
}

TEST(StateStore, ARolledBackPassLeavesTheLastCommit) {
  StateStore s({}, FsyncPolicy::kNever);
  StateTable& t = s.table("t");
  t.put("k", bytes("committed"));
  s.commit();
  t.put("k", bytes("not"));
  s.record_handled("c", "p", 1, 10);
  s.set_output_mark("out", 9);
  EXPECT_TRUE(s.in_transaction());
  s.rollback();
  EXPECT_EQ(value(t, "k"), "committed");
  EXPECT_TRUE(s.handled("c").empty());
  EXPECT_EQ(s.output_mark("out"), std::nullopt);
}

TEST(StateStore, SizeCountsWhatThePassChangedAndReadsSeeIt) {
  StateStore s({}, FsyncPolicy::kNever);
  StateTable& t = s.table("t");
  t.put("a", bytes("1"));
  t.put("b", bytes("1"));
  s.commit();
  EXPECT_EQ(t.size(), 2u);
  s.begin_call();
  t.put("c", bytes("1"));
  EXPECT_TRUE(t.erase("a"));
  EXPECT_EQ(t.size(), 2u) << "c added, a erased";
  EXPECT_EQ(value(t, "a"), "<none>");
  s.end_call(true);
  t.put("b", bytes("2"));  // outside a call (a timer): part of the pass too
  EXPECT_EQ(t.size(), 2u);
  s.commit();
  EXPECT_EQ(value(t, "b"), "2");
  EXPECT_EQ(value(t, "c"), "1");
  EXPECT_EQ(t.size(), 2u);
}

TEST(StateStore, ForgottenOutboxMarksStayForgotten) {
  test::TempDir tmp;
  const fs::path file = tmp.path() / "state.sqlite";
  {
    StateStore s(file, FsyncPolicy::kNever);
    s.set_output_mark("out", 7);
    s.table("t").put("k", bytes("kept"));
    s.commit();
    s.forget_output_marks();
  }
  StateStore s(file, FsyncPolicy::kNever);
  EXPECT_EQ(s.output_mark("out"), std::nullopt);
  EXPECT_EQ(value(s.table("t"), "k"), "kept") << "only the marks go";
}

TEST(StateStore, TablesAreSeparateAndKeysAreBytes) {
  StateStore s({}, FsyncPolicy::kNever);
  StateTable& a = s.table("a");
  StateTable& b = s.table("b");
  EXPECT_EQ(&s.table("a"), &a) << "one handle per name";
  const std::string binary_key("k\0ey", 4);
  a.put(binary_key, bytes("in a"));
  b.put(binary_key, bytes("in b"));
  s.commit();
  EXPECT_EQ(value(a, binary_key), "in a");
  EXPECT_EQ(value(b, binary_key), "in b");
  EXPECT_EQ(value(a, "k"), "<none>");
}

TEST(StateStore, TheInboxKeepsWhatAProducerMayStillReSend) {
  StateStore s({}, FsyncPolicy::kNever);
  constexpr std::uint64_t kKeep = 100;
  for (std::uint64_t seq = 1; seq <= 5000; ++seq) {
    s.record_handled("c", "p", seq, kKeep);
    if (seq % 50 == 0) s.commit();
  }
  s.commit();
  const auto seqs = s.handled("c").at("p");
  EXPECT_EQ(seqs.back(), 5000u);
  // Kept per commit (50 numbers here): pruned a commit's worth at a time.
  EXPECT_GE(seqs.front(), 5000u - kKeep - StateStore::kPruneEvery - 50);
  EXPECT_LE(seqs.front(), 5000u - kKeep) << "numbers within `keep` of the highest stay";
  EXPECT_LE(seqs.size(), kKeep + StateStore::kPruneEvery + 50);
  for (std::size_t i = 1; i < seqs.size(); ++i)
    ASSERT_EQ(seqs[i], seqs[i - 1] + 1) << "every number kept is there once";
}

TEST(StateStore, TheInboxForgetsTheLeastRecentlyUsedProducers) {
  test::TempDir tmp;
  const fs::path file = tmp.path() / "state.sqlite";
  {
    StateStore s(file, FsyncPolicy::kNever);
    // Each restart of a producer without a journal is a new producer id.
    for (std::size_t i = 0; i < StateStore::kMaxProducers + 10; ++i) {
      s.record_handled("c", "producer" + std::to_string(i), 1, 10);
      s.commit();
    }
  }
  StateStore s(file, FsyncPolicy::kNever);  // forgets at start too
  const auto handled = s.handled("c");
  EXPECT_LE(handled.size(), StateStore::kMaxProducers);
  EXPECT_TRUE(handled.count("producer" + std::to_string(StateStore::kMaxProducers + 9)));
  EXPECT_FALSE(handled.count("producer0"));
}

TEST(StateStore, TwoProcessesCannotShareAStore) {
  test::TempDir tmp;
  const fs::path file = tmp.path() / "state.sqlite";
  StateStore first(file, FsyncPolicy::kBatch);
  first.table("t").put("k", bytes("v"));
  first.commit();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      StateStore second(file, FsyncPolicy::kBatch);
    } catch (const Error& e) {
      ::_exit(std::strstr(e.what(), "in use by another process") != nullptr &&
                      std::strstr(e.what(), file.c_str()) != nullptr
                  ? 0
                  : 4);
    }
    ::_exit(5);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "4: the error does not say why, 5: it opened";
}

TEST(StateStore, AFileThatIsNotADatabaseIsNamed) {
  test::TempDir tmp;
  const fs::path file = tmp.path() / "state.sqlite";
  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("this is not an SQLite database, just text long enough to look like a header\n", f);
    std::fclose(f);
  }
  try {
    StateStore s(file, FsyncPolicy::kBatch);
    FAIL() << "opened a file that is not a database";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("move it aside"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace brook::detail
