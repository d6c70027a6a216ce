// The on-disk journal of a durable output (docs/reliability.md, "Durable outputs"): every
// message emit() accepted, kept until every consuming node acknowledged it, so the next
// incarnation of a crashed producer re-sends what was still unacknowledged.
//
// A directory of segment files (format in docs/reliability.md), each memory-mapped: an append is
// a copy into the page cache, with no system call, so a record survives a crash of the process
// as soon as append() returns. append_batch() (a state store's pass) writes its records with one
// pwrite instead: the pages it fills are never mapped, so the flusher's write-back needs no
// write-protect faults and TLB flushes per page, which cost ~45 us per 4 KiB page on the test VM
// (a third of a stateful relay's CPU). Acknowledgement and discard marks are pwritten too.
// Surviving a crash of the machine is the fsync policy's business: `always` forces each record to
// disk before append() returns, `batch` has a flusher thread force the segment at most
// kBatchInterval after a write (the loop never waits for the disk), `never` leaves it to the
// kernel's write-back.
//
// Not thread-safe: owned by one OutputPort on the node's loop thread (the flusher only calls
// fdatasync on file descriptors handed to it). Holds an exclusive lock on its directory, so two
// processes never share a journal.
#pragma once

#include <algorithm>
#include <atomic>
#include <brook/topology.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace brook::detail {

class OutputJournal {
 public:
  static constexpr auto kBatchInterval = std::chrono::milliseconds(100);
  static constexpr std::size_t kDefaultSegmentSize = 16 * 1024 * 1024;

  struct Record {
    std::uint64_t seq = 0;
    std::uint64_t key_hash = 0;
    std::span<const std::byte> frame;
  };

  // Opens or creates the journal in `dir` (parents created) and reads what earlier incarnations
  // left. Segments are at least `segment_size` bytes (more for a larger message). Throws
  // brook::Error naming the file and the reason (in use by another process, unreadable). A full
  // disk is not one: the journal then starts without a segment to write and append() refuses
  // messages until one fits.
  OutputJournal(std::filesystem::path dir, FsyncPolicy fsync,
                std::size_t segment_size = kDefaultSegmentSize);
  ~OutputJournal();
  OutputJournal(const OutputJournal&) = delete;
  OutputJournal& operator=(const OutputJournal&) = delete;

  // Stable across incarnations (stored in every segment): the producer id is built from it, so
  // consumers recognise re-sent messages as ones they may already have handled.
  const std::string& id() const noexcept { return id_; }
  // Sequence number for the next new message (after everything journaled before).
  std::uint64_t next_seq() const noexcept { return next_seq_; }
  const std::filesystem::path& dir() const noexcept { return dir_; }

  // Messages earlier incarnations journaled and not all consumers acknowledged, in sequence
  // order. The spans are valid during the call only. Releases them afterwards: call once.
  std::size_t replay(const std::function<void(const Record&)>& fn);

  // Journals one message; `seq` must exceed every earlier one. Throws BackpressureError when the
  // file system has no room for a new segment (the journal takes messages again once it has),
  // brook::Error when a segment cannot be created for another reason; either way the message is
  // not accepted.
  void append(std::uint64_t seq, std::uint64_t key_hash, std::span<const std::byte> frame);
  // append() for several messages in sequence order, with one write per segment they fill; a
  // record survives a crash of the process once this returns. On a throw the records written so
  // far stay (a state store's pass discards them with discard_from()).
  void append_batch(std::span<const Record> records);
  // Every message below `seq` is acknowledged: recorded (lazily: a lost record only means more
  // re-sends) and segments holding nothing newer are deleted. Never throws: it creates no
  // segment (without room left in the active one, the next segment's header keeps the mark).
  void acknowledged_below(std::uint64_t seq);
  // Messages from `seq` on were never committed (docs/reliability.md, "Exactly-once effects"):
  // they are not replayed, and the next append may reuse their numbers. Writes a record saying
  // so (append() keeps room for it). Throws brook::Error when the journal has no segment at all
  // (it started on a full disk) or the record cannot be written.
  void discard_from(std::uint64_t seq);
  // The next new message gets number `seq` at least (numbers below it are never used again).
  void skip_to(std::uint64_t seq) noexcept { next_seq_ = std::max(next_seq_, seq); }
  // Forces what was appended to disk now (fsync always does this on every append; batch has its
  // flusher thread do it).
  void sync();

  std::size_t segments() const noexcept { return segments_.size(); }

 private:
  struct Segment {
    std::filesystem::path path;
    std::uint64_t number = 0;
    std::uint64_t first_seq = 0;
  };
  struct Mapping {
    int fd = -1;
    std::byte* base = nullptr;
    std::size_t size = 0;
  };
  struct Pending {  // an unacknowledged record of an earlier incarnation
    std::size_t mapping;
    std::size_t offset;
    std::uint64_t seq;
    std::uint64_t key_hash;
    std::size_t frame_size;
  };

  void lock_dir();
  void recover();
  Mapping map_segment(const Segment& s);
  // Checks a segment's header and takes its first number, low-water mark and journal id; false
  // (the segment removed) for one created but never written.
  bool read_header(Segment& s, Mapping& m);
  // Adds the segment's messages (mapped as old_[mapping]) to `found`, dropping those of `found`
  // a discard record names; `max_seq` follows the highest number in use.
  void scan(const Segment& s, Mapping& m, std::size_t mapping, std::vector<Pending>& found,
            std::uint64_t& low_water, std::uint64_t& max_seq);
  // Creates the segment to write next and makes it the active one; the active one stays when it
  // cannot (BackpressureError for a full file system, brook::Error otherwise).
  void open_segment(std::uint64_t first_seq, std::size_t min_size);
  // open_segment() for append(), logging when the journal starts and stops refusing messages.
  void roll(std::uint64_t first_seq, std::size_t min_size);
  // Writes a mark (low water, discard) at write_at_ with pwrite; throws like write_out().
  void write_record(std::uint32_t type, std::span<const std::byte> head,
                    std::span<const std::byte> body);
  // pwrite of `bytes` at offset `at` of the active segment, whole; throws BackpressureError for a
  // full file system, brook::Error for another failure.
  void write_out(std::span<const std::byte> bytes, std::size_t at);
  void delete_acknowledged();
  void sync_range(std::size_t from, std::size_t to);
  // After records were written from `start` of the active segment: what the fsync policy asks
  // (a sync now, or the flusher's next round).
  void made_durable(std::size_t start);
  static void unmap(Mapping& m) noexcept;

  std::filesystem::path dir_;
  FsyncPolicy fsync_;
  std::size_t segment_size_;
  int lock_fd_ = -1;
  std::string id_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t low_water_ = 0;    // every seq below is acknowledged
  std::uint64_t next_number_ = 1;  // of the next segment file
  std::vector<Segment> segments_;  // oldest first; the last is the one written
  Mapping active_;                 // none after a start on a full disk, until a segment fits
  bool full_ = false;              // the last attempt at a new segment found no room
  std::size_t write_at_ = 0;       // offset of the next record in the active segment
  std::size_t synced_to_ = 0;      // bytes of the active segment known to be on disk
  std::vector<Mapping> old_;       // earlier segments, mapped until replay()
  std::vector<Pending> pending_;
  std::vector<std::byte> batch_;    // append_batch()'s records; reused
  std::vector<std::byte> scratch_;  // write_record()'s; reused

  // fsync batch: a flusher thread syncs the active segment (through its own duplicate of the
  // descriptor) when `dirty_`, and each finished segment once more before closing it.
  void flusher();
  std::atomic<bool> dirty_{false};
  std::mutex flush_mutex_;
  std::condition_variable flush_cv_;
  int flush_fd_ = -1;          // guarded by flush_mutex_
  std::vector<int> to_flush_;  // guarded by flush_mutex_
  bool flush_stop_ = false;    // guarded by flush_mutex_
  std::thread flush_thread_;
};

}  // namespace brook::detail
