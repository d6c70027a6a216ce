#include "dead_letter_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <brook/error.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>

namespace brook::cli {

namespace {

std::string key_of(std::string_view producer, std::uint64_t seq) {
  std::string k(producer);
  k += '/';
  k += std::to_string(seq);
  return k;
}

}  // namespace

DeadLetterWriter::DeadLetterWriter(std::filesystem::path path, std::uint64_t max_bytes)
    : path_(std::move(path)), max_bytes_(max_bytes) {
  open();
  scan();
}

DeadLetterWriter::~DeadLetterWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void DeadLetterWriter::open() {
  const int fd = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("dead-letter store " + path_.string() + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error("dead-letter store " + path_.string() + ": " + std::strerror(err));
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  bytes_ = static_cast<std::uint64_t>(st.st_size);
  torn_ = false;
  if (bytes_ > 0) {
    char last = '\n';
    if (::pread(fd_, &last, 1, static_cast<off_t>(bytes_ - 1)) == 1) torn_ = last != '\n';
  }
}

void DeadLetterWriter::scan() {
  // One pass over the lines keeps the offsets of the last kRemembered letters; only those are
  // parsed (the ids are consecutive, so the last one gives the next id).
  std::ifstream in(path_, std::ios::binary);
  std::deque<std::streamoff> offsets;
  std::string line;
  std::streamoff at = 0;
  while (std::getline(in, line)) {
    if (line.rfind("{\"dead\":", 0) == 0) {
      ++letters_;
      offsets.push_back(at);
      if (offsets.size() > kRemembered) offsets.pop_front();
    }
    at += static_cast<std::streamoff>(line.size()) + 1;
  }
  in.clear();
  for (const std::streamoff off : offsets) {
    in.seekg(off);
    if (!std::getline(in, line)) break;
    try {
      const auto j = nlohmann::json::parse(line).at("dead");
      last_id_ = std::max(last_id_, j.at("id").get<std::uint64_t>());
      remember(key_of(j.at("producer").get<std::string>(), j.at("seq").get<std::uint64_t>()));
    } catch (const std::exception&) {
      // A torn or foreign line: it holds no letter to recognise.
    }
  }
}

void DeadLetterWriter::reopen_if_moved() {
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
    // `brook dead redrive` appends to the same file: take its size (and last byte) as it is.
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size != bytes_) {
      bytes_ = size;
      char last = '\n';
      torn_ = size > 0 && ::pread(fd_, &last, 1, static_cast<off_t>(size - 1)) == 1 && last != '\n';
    }
    return;
  }
  // Moved aside or deleted (to make room, say): a new store begins. Its ids go on from the old
  // one's, so `brook dead` ids stay unique across the two; what was remembered stays too.
  open();
  letters_ = 0;
  scan();
}

void DeadLetterWriter::remember(std::string key) {
  if (!recent_.insert(key).second) return;
  recent_order_.push_back(std::move(key));
  if (recent_order_.size() > kRemembered) {
    recent_.erase(recent_order_.front());
    recent_order_.pop_front();
  }
}

void DeadLetterWriter::append(const std::string& line) {
  // A torn line gets its end first, in the same write, so the new letter starts a line.
  const std::string text = (torn_ ? "\n" : "") + line + "\n";
  const ssize_t n = ::write(fd_, text.data(), text.size());
  if (n == static_cast<ssize_t>(text.size())) {
    bytes_ += text.size();
    torn_ = false;
    return;
  }
  const int err = n < 0 ? errno : ENOSPC;
  if (n > 0) {
    bytes_ += static_cast<std::uint64_t>(n);
    torn_ = text[static_cast<std::size_t>(n) - 1] != '\n';
  }
  throw Error("dead-letter store " + path_.string() + ": write failed: " + std::strerror(err));
}

DeadLetterWriter::Added DeadLetterWriter::add(DeadLetter& d) {
  std::string key = key_of(d.producer, d.seq);
  if (recent_.count(key) > 0) return Added::kDuplicate;
  reopen_if_moved();
  d.id = last_id_ + 1;
  const std::string line = dead_letter_line(d);
  if (bytes_ + line.size() + 2 > max_bytes_) return Added::kFull;
  append(line);
  last_id_ = d.id;
  ++letters_;
  remember(std::move(key));
  return Added::kStored;
}

}  // namespace brook::cli
