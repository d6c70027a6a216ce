// The launcher's terminal output: children's lines prefixed with "node.instance |", the
// launcher's own messages, and on a terminal a live status block kept below the log lines
// (erased before new lines are printed, redrawn after). Single-threaded.
//
// Once stdout is closed (a write failed with EPIPE, or the launcher saw its pipe's reader go),
// children's lines are discarded and the launcher's own go to stderr.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace brook::launch {

class Console {
 public:
  // `status`: keep a live status block (stdout is a terminal and not --quiet).
  // `color`: colour the prefixes.
  // `json`: children write JSON lines, passed through; other lines are wrapped in JSON objects.
  Console(bool status, bool color, bool json = false);

  // Widens the prefix column so every name fits.
  void reserve_name(std::string_view name);
  // One complete line from a child (without the newline).
  void child_line(std::string_view name, std::string_view line);
  // A line from the launcher itself.
  void say(std::string_view line);
  // Replaces the status block's lines; drawn at once.
  void set_status(std::vector<std::string> lines);
  // Erases the status block and stops showing it (when shutdown begins: it would be stale).
  void clear_status();
  // Also called with each line the launcher says (for clients of the control socket).
  void set_listener(std::function<void(std::string_view)> listener) {
    listener_ = std::move(listener);
  }
  // Also writes every line (prefixed, without colours or the status block) to this fd.
  void set_tee(int fd) noexcept { tee_fd_ = fd; }
  bool stdout_closed() const noexcept { return stdout_closed_; }
  void mark_stdout_closed() noexcept { stdout_closed_ = true; }

 private:
  void erase();
  void draw();
  void write(const std::string& s);
  std::string_view color_of(std::string_view name);

  bool status_enabled_;
  bool color_;
  bool json_;
  bool stdout_closed_ = false;
  std::size_t width_ = 5;
  std::vector<std::string> status_;
  std::size_t drawn_ = 0;  // status lines currently on screen
  std::vector<std::string> color_names_;
  std::function<void(std::string_view)> listener_;
  int tee_fd_ = -1;
};

}  // namespace brook::launch
