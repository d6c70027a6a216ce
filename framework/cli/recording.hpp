// The file `brook record` writes and `brook replay` reads (docs/record.md): a gzip stream holding
// a header (magic, version, JSON describing the recording) and length-prefixed records, each a
// receive time, a channel and an envelope exactly as it was on the wire. Plain file code, no
// sockets, so the format is unit-tested on its own.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace brook::cli {

inline constexpr std::string_view kRecordingMagic = "BROOKREC";
inline constexpr std::uint32_t kRecordingVersion = 1;
// Bounds a reader applies before allocating, so a corrupt length is an error, not a huge buffer.
inline constexpr std::uint32_t kMaxRecordingHeader = 16u << 20;
inline constexpr std::uint32_t kMaxRecord = 1u << 30;
// Bytes of a record before its envelope: receive time (8) and channel index (2).
inline constexpr std::uint32_t kRecordPrefix = 10;

struct RecordedChannel {
  std::string name;
  std::string pattern;   // pipeline | pubsub
  std::string delivery;  // at-least-once | best-effort (pipeline), "" for pubsub
  bool operator==(const RecordedChannel&) const = default;
};

struct RecordingHeader {
  std::string topology;
  std::vector<RecordedChannel> channels;  // a record's channel is an index into these
  std::int64_t start_ns = 0;              // wall clock when recording started
  std::string host;                       // where it was recorded
  bool operator==(const RecordingHeader&) const = default;
};

struct Record {
  std::int64_t receive_ns = 0;  // wall clock when the recorder received it
  std::uint16_t channel = 0;
  std::vector<std::byte> envelope;  // the frame as on the wire (docs/wire.md)
};

// Writes a recording. Errors (cannot create, disk full) throw brook::Error naming the file.
class RecordingWriter {
 public:
  RecordingWriter(const std::filesystem::path& file, const RecordingHeader& header);
  ~RecordingWriter();
  RecordingWriter(const RecordingWriter&) = delete;
  RecordingWriter& operator=(const RecordingWriter&) = delete;

  void write(std::int64_t receive_ns, std::uint16_t channel, std::span<const std::byte> envelope);
  // Makes everything written so far readable from the file even if the process is then killed
  // (a zlib sync flush); `brook record` calls it once a second.
  void flush();
  // Writes the end marker and closes the file. Without it the file reads as truncated.
  void finish();
  std::uint64_t records() const noexcept { return records_; }

 private:
  void put(const void* data, std::size_t size);
  [[noreturn]] void write_failed();

  std::filesystem::path file_;
  gzFile gz_ = nullptr;
  std::uint64_t records_ = 0;
};

// Reads a recording. A missing file, a wrong magic or version, or a corrupt header throws
// brook::Error naming the file and what is wrong; a file that ends early (the recorder was
// killed) or is corrupt after the header yields the records before that point, then
// truncated() says why.
class RecordingReader {
 public:
  explicit RecordingReader(const std::filesystem::path& file);
  ~RecordingReader();
  RecordingReader(const RecordingReader&) = delete;
  RecordingReader& operator=(const RecordingReader&) = delete;

  const RecordingHeader& header() const noexcept { return header_; }
  // The next record; nullopt at the end marker or where the file ends early.
  std::optional<Record> next();
  // Why the file ended before its end marker (empty when it did not, or not yet read that far).
  const std::string& truncated() const noexcept { return truncated_; }
  std::uint64_t records() const noexcept { return records_; }

 private:
  // Reads exactly `size` bytes; false at end of file or on a stream error (then `why_short`).
  bool read(void* data, std::size_t size, std::string& why_short);
  void end_early(const std::string& why);

  std::filesystem::path file_;
  gzFile gz_ = nullptr;
  RecordingHeader header_;
  std::uint64_t records_ = 0;
  bool done_ = false;
  std::string truncated_;
};

}  // namespace brook::cli
