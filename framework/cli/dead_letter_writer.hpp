// The writing side of a dead-letter store (dead_letter_file.hpp), for the brook-dead-letters
// node: appends letters without keeping them, so the node's memory does not grow with the store.
//
// - De-duplication: a re-delivered dead letter (its ack was lost, its producer restarted) is
//   recognised by its original (producer, seq) among the last kRemembered letters stored — a
//   re-delivery comes within the producer's ack horizon, long before that many later letters.
//   Cost: one string per remembered letter (~100 B), about 8 MiB at most.
// - A cap on the file (`max_bytes`): a letter that would take the store beyond it is refused
//   (kFull), and so is one the disk has no room for (write errors throw): the node declines it,
//   so its producer keeps it. Moving the store aside starts a new one: the path is checked
//   before each append.
// - A torn last line (a crash or a full disk mid-append) is ended before the next append, so it
//   spoils only itself.
//
// Not thread-safe; one writer per store.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <string>
#include <unordered_set>

#include "dead_letter_file.hpp"

namespace brook::cli {

class DeadLetterWriter {
 public:
  static constexpr std::size_t kRemembered = 65536;

  // Opens or creates the store and reads what it needs from it (the last id, the recent
  // letters' ids, the size). Throws brook::Error naming the file.
  DeadLetterWriter(std::filesystem::path path, std::uint64_t max_bytes);
  ~DeadLetterWriter();
  DeadLetterWriter(const DeadLetterWriter&) = delete;
  DeadLetterWriter& operator=(const DeadLetterWriter&) = delete;

  enum class Added { kStored, kDuplicate, kFull };
  // Stores `d` (setting d.id) unless it was stored recently or the store is full. Throws
  // brook::Error when the append fails (a full disk): nothing was stored then.
  [[nodiscard]] Added add(DeadLetter& d);

  std::uint64_t letters() const noexcept { return letters_; }  // in the store, all told
  std::uint64_t bytes() const noexcept { return bytes_; }
  std::uint64_t max_bytes() const noexcept { return max_bytes_; }
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  void open();
  void scan();
  void reopen_if_moved();
  void remember(std::string key);
  void append(const std::string& line);

  std::filesystem::path path_;
  std::uint64_t max_bytes_;
  int fd_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t letters_ = 0;
  std::uint64_t last_id_ = 0;
  bool torn_ = false;  // the file does not end with a newline
  std::deque<std::string> recent_order_;
  std::unordered_set<std::string> recent_;
};

}  // namespace brook::cli
