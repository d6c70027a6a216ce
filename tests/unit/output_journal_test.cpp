// The durable output journal on a real filesystem: what a crashed incarnation accepted and was
// not acknowledged comes back, in order and intact; acknowledged segments are deleted; a torn
// record ends the replay instead of producing garbage.
#include "runtime/output_journal.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <brook/error.hpp>
#include <cstring>
#include <fstream>
#include <functional>

#include "support/process.hpp"

namespace brook::detail {
namespace {

namespace fs = std::filesystem;

std::vector<std::byte> bytes(const std::string& s) {
  std::vector<std::byte> b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

std::string text(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

std::string body(std::uint64_t seq) {
  return "message number " + std::to_string(seq);
}

struct Replayed {
  std::uint64_t seq;
  std::uint64_t key_hash;
  std::string frame;
};

std::vector<Replayed> replay(OutputJournal& j) {
  std::vector<Replayed> out;
  j.replay([&](const OutputJournal::Record& r) {
    out.push_back({r.seq, r.key_hash, text(r.frame)});
  });
  return out;
}

// `got` is messages first..last in order, each with key hash seq * 7 and frame `frame(seq)`.
void expect_replayed(const std::vector<Replayed>& got, std::uint64_t first, std::uint64_t last,
                     const std::function<std::string(std::uint64_t)>& frame) {
  ASSERT_EQ(got.size(), last - first + 1);
  for (std::size_t i = 0; i < got.size(); ++i) {
    const std::uint64_t seq = first + i;
    ASSERT_EQ(got[i].seq, seq);
    EXPECT_EQ(got[i].key_hash, seq * 7);
    EXPECT_EQ(got[i].frame, frame(seq));
  }
}

std::size_t segment_files(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    n += e.path().extension() == ".seg" ? 1 : 0;
  return n;
}

// Runs `body` in a child process that is then SIGKILLed, as a crash right after its last write.
void in_a_killed_process(const std::function<void()>& body) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    body();
    ::raise(SIGKILL);
    ::_exit(3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
}

TEST(OutputJournal, AFreshJournalHasAnIdAndStartsAtOne) {
  test::TempDir tmp;
  OutputJournal j(tmp.path() / "a" / "b", FsyncPolicy::kBatch);
  EXPECT_EQ(j.id().size(), 16u);
  EXPECT_EQ(j.next_seq(), 1u);
  EXPECT_TRUE(replay(j).empty());
}

// The child process appends and is SIGKILLed: no destructor, no sync, exactly a crash.
TEST(OutputJournal, WhatAKilledProcessAcceptedAndWasNotAcknowledgedIsReplayed) {
  test::TempDir tmp;
  const fs::path dir = tmp.path() / "journal";
  std::string id;
  {
    OutputJournal j(dir, FsyncPolicy::kNever);
    id = j.id();
  }
  in_a_killed_process([&] {
    OutputJournal j(dir, FsyncPolicy::kNever, 8192);  // small segments: several files
    for (std::uint64_t seq = 1; seq <= 500; ++seq) {
      const auto b = bytes(body(seq));
      j.append(seq, seq * 7, b);
      if (seq == 300) j.acknowledged_below(200);
    }
  });

  OutputJournal j(dir, FsyncPolicy::kNever);
  EXPECT_EQ(j.id(), id) << "the journal's id must survive restarts";
  EXPECT_EQ(j.next_seq(), 501u);
  expect_replayed(replay(j), 200, 500, [](std::uint64_t seq) { return body(seq); });
}

// A state store's passes write batches (one pwrite per segment), mixed here with single
// appends, acknowledgement marks and segment rolls inside a batch: what the killed process
// accepted and was not acknowledged comes back exactly as with single appends.
TEST(OutputJournal, BatchesAcceptedByAKilledProcessAreReplayedLikeSingleAppends) {
  test::TempDir tmp;
  const fs::path dir = tmp.path() / "journal";
  in_a_killed_process([&] {
    OutputJournal j(dir, FsyncPolicy::kBatch, 8192);  // a 30-record batch fills 3+ segments
    std::vector<std::vector<std::byte>> frames;
    std::vector<OutputJournal::Record> batch;
    std::uint64_t seq = 1;
    while (seq <= 600) {
      if (seq % 100 == 1) {
        j.append(seq, seq * 7, bytes(body(seq)));
        ++seq;
        continue;
      }
      frames.clear();
      batch.clear();
      for (int i = 0; i < 30 && seq <= 600 && seq % 100 != 1; ++i, ++seq)
        frames.push_back(bytes(body(seq) + std::string(seq % 300, 'p')));
      std::uint64_t first = seq - frames.size();
      for (const auto& f : frames) {
        batch.push_back({first, first * 7, f});
        ++first;
      }
      j.append_batch(batch);
      if (seq > 250 && seq <= 281) j.acknowledged_below(240);
    }
  });

  OutputJournal j(dir, FsyncPolicy::kNever);
  EXPECT_EQ(j.next_seq(), 601u);
  expect_replayed(replay(j), 240, 600, [](std::uint64_t seq) {
    return seq % 100 == 1 ? body(seq) : body(seq) + std::string(seq % 300, 'p');
  });
}

TEST(OutputJournal, AcknowledgedSegmentsAreDeletedAndNumbersContinue) {
  test::TempDir tmp;
  const fs::path dir = tmp.path() / "journal";
  {
    OutputJournal j(dir, FsyncPolicy::kBatch, 4096);
    for (std::uint64_t seq = 1; seq <= 1000; ++seq)
      j.append(seq, 0, bytes(std::string(100, 'x')));
    EXPECT_GT(segment_files(dir), 20u);
    j.acknowledged_below(900);
    EXPECT_LT(segment_files(dir), 5u) << "segments below the low-water mark stay on disk";
    j.acknowledged_below(1001);
    EXPECT_EQ(segment_files(dir), 1u);
    EXPECT_EQ(j.segments(), 1u);
  }
  for (int restart = 0; restart < 3; ++restart) {
    OutputJournal j(dir, FsyncPolicy::kBatch, 4096);
    EXPECT_EQ(j.next_seq(), 1001u) << "restart " << restart;
    EXPECT_TRUE(replay(j).empty());
    EXPECT_EQ(segment_files(dir), 1u) << "each restart must not leave a segment behind";
  }
}

// A state store's commit failed (or never happened) after its pass appended: those records are
// discarded, across a segment boundary, and the numbers reused by what is appended next.
TEST(OutputJournal, DiscardedRecordsAreNotReplayedAndTheirNumbersAreReused) {
  test::TempDir tmp;
  const fs::path dir = tmp.path() / "journal";
  {
    OutputJournal j(dir, FsyncPolicy::kNever, 4096);
    for (std::uint64_t seq = 1; seq <= 100; ++seq)
      j.append(seq, 0, bytes(body(seq)));
    j.discard_from(41);  // spans several 4 KiB segments
    EXPECT_EQ(j.next_seq(), 41u);
    for (std::uint64_t seq = 41; seq <= 50; ++seq)
      j.append(seq, 1, bytes("again " + body(seq)));
  }
  {
    OutputJournal j(dir, FsyncPolicy::kNever, 4096);
    EXPECT_EQ(j.next_seq(), 51u);
    const auto got = replay(j);
    ASSERT_EQ(got.size(), 50u);
    for (std::size_t i = 0; i < got.size(); ++i) {
      const std::uint64_t seq = i + 1;
      ASSERT_EQ(got[i].seq, seq);
      EXPECT_EQ(got[i].frame, seq <= 40 ? body(seq) : "again " + body(seq));
    }
    // At start, as a state store's outbox mark makes it: what is pending is dropped too.
    j.discard_from(46);
    EXPECT_EQ(j.next_seq(), 46u);
  }
  OutputJournal j(dir, FsyncPolicy::kNever, 4096);
  EXPECT_EQ(j.next_seq(), 46u);
  EXPECT_EQ(replay(j).size(), 45u);
}

// A state store committed numbers the journal lost (a machine crash with fsync batch): new
// messages skip them, so consumers that saw them do not take new ones for re-sends.
TEST(OutputJournal, SkippedNumbersAreNeverUsed) {
  test::TempDir tmp;
  const fs::path dir = tmp.path() / "journal";
  {
    OutputJournal j(dir, FsyncPolicy::kNever);
    j.append(1, 0, bytes(body(1)));
    j.skip_to(10);
    j.skip_to(5);  // never back
    EXPECT_EQ(j.next_seq(), 10u);
    j.append(10, 0, bytes(body(10)));
  }
  OutputJournal j(dir, FsyncPolicy::kNever);
  EXPECT_EQ(j.next_seq(), 11u);
  const auto got = replay(j);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].seq, 10u);
}

// A discard always fits: every append leaves room for one in its segment.
TEST(OutputJournal, ADiscardFitsInAFullSegment) {
  test::TempDir tmp;
  const fs::path dir = tmp.path() / "journal";
  {
    OutputJournal j(dir, FsyncPolicy::kNever, 4096);
    for (std::uint64_t seq = 1; seq <= 30; ++seq) {
      j.append(seq, 0, bytes(std::string(4096 - 64 - 16 - 16 - 24 - 8, 'x')));  // one a segment
      j.discard_from(seq);
      j.append(seq, 0, bytes(body(seq)));
    }
  }
  OutputJournal j(dir, FsyncPolicy::kNever, 4096);
  const auto got = replay(j);
  ASSERT_EQ(got.size(), 30u);
  EXPECT_EQ(got.back().frame, body(30));
}

TEST(OutputJournal, ATornLastRecordEndsTheReplayWithoutGarbage) {
  test::TempDir tmp;
  const fs::path dir = tmp.path() / "journal";
  fs::path segment;
  {
    OutputJournal j(dir, FsyncPolicy::kAlways);
    for (std::uint64_t seq = 1; seq <= 10; ++seq)
      j.append(seq, 0, bytes(body(seq)));
  }
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".seg") segment = e.path();
  }
  ASSERT_FALSE(segment.empty());
  {
    // Flip a byte of the last record's body, as a machine crash mid-write would leave it.
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const std::size_t at = data.rfind(body(10));
    ASSERT_NE(at, std::string::npos);
    f.seekp(static_cast<std::streamoff>(at));
    f.put('X');
  }
  OutputJournal j(dir, FsyncPolicy::kAlways);
  const auto got = replay(j);
  ASSERT_EQ(got.size(), 9u);
  EXPECT_EQ(got.back().frame, body(9));
  EXPECT_GE(j.next_seq(), 10u);
}

TEST(OutputJournal, AMessageLargerThanASegmentGetsItsOwn) {
  test::TempDir tmp;
  const fs::path dir = tmp.path() / "journal";
  const std::string big(100000, 'b');
  {
    OutputJournal j(dir, FsyncPolicy::kNever, 4096);
    j.append(1, 0, bytes("small"));
    j.append(2, 0, bytes(big));
    j.append(3, 0, bytes("after"));
  }
  OutputJournal j(dir, FsyncPolicy::kNever, 4096);
  const auto got = replay(j);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1].frame, big);
  EXPECT_EQ(got[2].frame, "after");
}

TEST(OutputJournal, TwoProcessesCannotShareAJournal) {
  test::TempDir tmp;
  OutputJournal first(tmp.path() / "j", FsyncPolicy::kBatch);
  try {
    OutputJournal second(tmp.path() / "j", FsyncPolicy::kBatch);
    FAIL() << "a second journal on the same directory opened";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("in use by another process"), std::string::npos)
        << e.what();
  }
}

TEST(OutputJournal, AForeignFileInTheDirectoryIsNamedInTheError) {
  test::TempDir tmp;
  const fs::path dir = tmp.path() / "j";
  fs::create_directories(dir);
  std::ofstream(dir / "00000000000000000007.seg") << std::string(100, 'z');
  try {
    OutputJournal j(dir, FsyncPolicy::kBatch);
    FAIL() << "opened a journal with a foreign segment";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("00000000000000000007.seg"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("bad magic"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace brook::detail
