// The dead-letter store kept by `brook-dead-letters` and read by `brook dead`: an append-only
// file of JSON lines, one per dead letter ({"dead": {...}}) and one per redrive
// ({"redriven": id, "at": ns}). Appends are single write(2) calls with O_APPEND, so the keeper
// node and the CLI can both append to one file. Loading tolerates a torn last line.
//
// DeadLetterFile loads a store whole, for the CLI; the node appends with DeadLetterWriter
// (dead_letter_writer.hpp), which keeps no letters in memory. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace brook::cli {

struct DeadLetter {
  std::uint64_t id = 0;  // 1, 2, ... in the order they were stored
  std::string producer;  // the original message id
  std::uint64_t seq = 0;
  std::string channel;       // where it failed (dead-letter-channel header)
  std::string dead_channel;  // where it was dead-lettered
  std::string type;
  std::optional<std::string> key;
  std::vector<std::pair<std::string, std::string>> headers;  // original ones, no dead-letter-*
  std::vector<std::byte> payload;                            // msgpack
  std::string error;
  std::uint32_t attempts = 0;
  std::string node;  // instance that gave up
  std::int64_t received_ns = 0;
  std::optional<std::int64_t> redriven_ns;
};

// One store line for a letter: {"dead": {...}}, without the newline.
std::string dead_letter_line(const DeadLetter& d);

class DeadLetterFile {
 public:
  // Opens (creating it if `create`) and loads the file. Throws brook::Error naming the file.
  DeadLetterFile(std::filesystem::path path, bool create);
  ~DeadLetterFile();
  DeadLetterFile(const DeadLetterFile&) = delete;
  DeadLetterFile& operator=(const DeadLetterFile&) = delete;

  void mark_redriven(std::uint64_t id, std::int64_t at_ns);

  const std::vector<DeadLetter>& all() const noexcept { return letters_; }
  const DeadLetter* find(std::uint64_t id) const noexcept;
  const std::filesystem::path& path() const noexcept { return path_; }
  std::size_t skipped_lines() const noexcept { return skipped_; }

 private:
  void load();
  void append(const std::string& line);

  std::filesystem::path path_;
  int fd_ = -1;
  std::vector<DeadLetter> letters_;
  std::unordered_map<std::uint64_t, std::size_t> index_;  // id -> letters_ index
  std::size_t skipped_ = 0;
};

}  // namespace brook::cli
