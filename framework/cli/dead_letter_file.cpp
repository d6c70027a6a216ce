#include "dead_letter_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <brook/error.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

namespace brook::cli {

namespace {

std::string to_hex(const std::vector<std::byte>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (const std::byte b : bytes) {
    s += kDigits[std::to_integer<unsigned>(b) >> 4];
    s += kDigits[std::to_integer<unsigned>(b) & 0xf];
  }
  return s;
}

std::vector<std::byte> from_hex(const std::string& s) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::vector<std::byte> out;
  if (s.size() % 2 != 0) throw Error("odd-length hex");
  for (std::size_t i = 0; i < s.size(); i += 2) {
    const int hi = nibble(s[i]);
    const int lo = nibble(s[i + 1]);
    if (hi < 0 || lo < 0) throw Error("bad hex digit");
    out.push_back(static_cast<std::byte>(hi * 16 + lo));
  }
  return out;
}

nlohmann::json to_json(const DeadLetter& d) {
  nlohmann::json h = nlohmann::json::array();
  for (const auto& [k, v] : d.headers)
    h.push_back({k, v});
  return {{"id", d.id},
          {"producer", d.producer},
          {"seq", d.seq},
          {"channel", d.channel},
          {"dead_channel", d.dead_channel},
          {"type", d.type},
          {"key", d.key ? nlohmann::json(*d.key) : nlohmann::json(nullptr)},
          {"headers", h},
          {"payload", to_hex(d.payload)},
          {"error", d.error},
          {"attempts", d.attempts},
          {"node", d.node},
          {"received_ns", d.received_ns}};
}

DeadLetter from_json(const nlohmann::json& j) {
  DeadLetter d;
  d.id = j.at("id").get<std::uint64_t>();
  d.producer = j.at("producer").get<std::string>();
  d.seq = j.at("seq").get<std::uint64_t>();
  d.channel = j.at("channel").get<std::string>();
  d.dead_channel = j.at("dead_channel").get<std::string>();
  d.type = j.at("type").get<std::string>();
  if (!j.at("key").is_null()) d.key = j.at("key").get<std::string>();
  for (const auto& h : j.at("headers"))
    d.headers.emplace_back(h.at(0).get<std::string>(), h.at(1).get<std::string>());
  d.payload = from_hex(j.at("payload").get<std::string>());
  d.error = j.at("error").get<std::string>();
  d.attempts = j.at("attempts").get<std::uint32_t>();
  d.node = j.at("node").get<std::string>();
  d.received_ns = j.at("received_ns").get<std::int64_t>();
  return d;
}

}  // namespace

std::string dead_letter_line(const DeadLetter& d) {
  return nlohmann::json{{"dead", to_json(d)}}.dump(-1, ' ', false,
                                                   nlohmann::json::error_handler_t::replace);
}

DeadLetterFile::DeadLetterFile(std::filesystem::path path, bool create) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
  if (fd_ < 0) {
    throw Error("dead-letter store " + path_.string() + ": " + std::strerror(errno) +
                (create ? "" : " (is this the store of a brook-dead-letters node?)"));
  }
  load();
}

DeadLetterFile::~DeadLetterFile() {
  if (fd_ >= 0) ::close(fd_);
}

void DeadLetterFile::load() {
  std::ifstream in(path_);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      const auto j = nlohmann::json::parse(line);
      if (j.contains("dead")) {
        letters_.push_back(from_json(j.at("dead")));
        index_[letters_.back().id] = letters_.size() - 1;
      } else if (j.contains("redriven")) {
        const auto it = index_.find(j.at("redriven").get<std::uint64_t>());
        if (it != index_.end()) letters_[it->second].redriven_ns = j.at("at").get<std::int64_t>();
      } else {
        ++skipped_;
      }
    } catch (const std::exception&) {
      ++skipped_;  // a torn or foreign line: keep going
    }
  }
}

void DeadLetterFile::append(const std::string& line) {
  // After a torn last line (the keeper crashed mid-append) the new line starts a line of its own.
  char last = '\n';
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && st.st_size > 0 && ::pread(fd_, &last, 1, st.st_size - 1) != 1) {
    last = '\n';
  }
  const std::string text = (last == '\n' ? "" : "\n") + line + "\n";
  if (::write(fd_, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    throw Error("dead-letter store " + path_.string() + ": write failed: " + std::strerror(errno));
  }
}

void DeadLetterFile::mark_redriven(std::uint64_t id, std::int64_t at_ns) {
  append(nlohmann::json{{"redriven", id}, {"at", at_ns}}.dump());
  if (const auto it = index_.find(id); it != index_.end()) letters_[it->second].redriven_ns = at_ns;
}

const DeadLetter* DeadLetterFile::find(std::uint64_t id) const noexcept {
  const auto it = index_.find(id);
  return it == index_.end() ? nullptr : &letters_[it->second];
}

}  // namespace brook::cli
