#include "launch/console.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "util/json_text.hpp"
#include "util/log_context.hpp"

namespace brook::launch {

namespace {
constexpr std::string_view kColors[] = {"\x1b[36m", "\x1b[33m", "\x1b[32m", "\x1b[35m",
                                        "\x1b[34m", "\x1b[96m", "\x1b[93m", "\x1b[92m"};
constexpr std::string_view kReset = "\x1b[0m";

// A child's JSON line as it is; anything else (a program writing text to stderr, the launcher's
// own messages) as a JSON object naming who wrote it.
std::string json_line(std::string_view name, std::string_view line) {
  if (line.size() >= 2 && line.front() == '{' && line.back() == '}') {
    return std::string(line) + "\n";
  }
  std::string s = "{\"time\":\"";
  detail::append_log_time(s);
  s += "\",\"level\":\"info\",\"instance\":\"";
  detail::append_json_escaped(s, name);
  s += "\",\"msg\":\"";
  detail::append_json_escaped(s, line);
  s += "\"}\n";
  return s;
}
}  // namespace

Console::Console(bool status, bool color, bool json)
    : status_enabled_(status), color_(color), json_(json) {}

void Console::reserve_name(std::string_view name) {
  width_ = std::max(width_, name.size());
}

std::string_view Console::color_of(std::string_view name) {
  // Replicas of one node share a colour: key on the node part of "node.instance".
  const std::string node(name.substr(0, name.find('.')));
  auto it = std::find(color_names_.begin(), color_names_.end(), node);
  std::size_t i = static_cast<std::size_t>(it - color_names_.begin());
  if (it == color_names_.end()) color_names_.push_back(node);
  return kColors[i % std::size(kColors)];
}

void Console::child_line(std::string_view name, std::string_view line) {
  if (stdout_closed_) return;
  if (json_) {
    const std::string j = json_line(name, line);
    write(j);
    if (tee_fd_ >= 0) (void)!::write(tee_fd_, j.data(), j.size());
    return;
  }
  std::string s;
  s.reserve(width_ + line.size() + 16);
  if (color_) s += color_of(name);
  s += name;
  s.append(width_ - std::min(width_, name.size()), ' ');
  s += " |";
  if (color_) s += kReset;
  s += ' ';
  s += line;
  s += '\n';
  erase();
  write(s);
  draw();
  if (tee_fd_ >= 0) {
    std::string plain(name);
    plain.append(width_ - std::min(width_, name.size()), ' ');
    plain += " | ";
    plain += line;
    plain += '\n';
    (void)!::write(tee_fd_, plain.data(), plain.size());
  }
}

void Console::say(std::string_view line) {
  if (listener_) listener_(line);
  if (stdout_closed_) {
    const std::string s =
        json_ ? json_line("brook", line) : "brook up: " + std::string(line) + "\n";
    (void)!::write(STDERR_FILENO, s.data(), s.size());
    return;
  }
  child_line("brook", line);
}

void Console::set_status(std::vector<std::string> lines) {
  if (!status_enabled_) return;
  erase();
  status_ = std::move(lines);
  draw();
}

void Console::clear_status() {
  erase();
  status_.clear();
  status_enabled_ = false;
}

void Console::erase() {
  if (drawn_ == 0) return;
  // Cursor up to the block's first line, then clear to the end of the screen.
  write("\x1b[" + std::to_string(drawn_) + "F\x1b[J");
  drawn_ = 0;
}

void Console::draw() {
  if (!status_enabled_ || status_.empty()) return;
  std::string s;
  for (const auto& l : status_)
    s += "\x1b[2m" + l + "\x1b[0m\n";
  write(s);
  drawn_ = status_.size();
}

void Console::write(const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(STDOUT_FILENO, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EPIPE) stdout_closed_ = true;  // the launcher stops the topology
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace brook::launch
