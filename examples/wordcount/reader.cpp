// wordcount-reader: sends each line of a text file (params.file) as a Line, then exits. The file
// is read by a plain blocking thread, which hands each line to the node's loop with post() — the
// pattern for any blocking API (a database or HTTP client, a library with threads of its own).
// For a pipe, a socket or stdin, node.watch(fd, ...) serves the fd without a thread.
#include <atomic>
#include <fstream>
#include <functional>
#include <semaphore>
#include <thread>

#include "wordcount.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  const auto file = node.params().get<std::string>("file");
  // Lines handed to the loop but not yet emitted: the reader waits when the loop is behind, so
  // memory stays bounded whatever the file's size.
  std::counting_semaphore<> room(1000);
  std::atomic<bool> stopping{false};
  std::jthread reader;

  // Loop thread only: lines waiting to be tried again, and whether the reader is done.
  std::size_t retrying = 0;
  bool read_all = false;
  auto finish_if_done = [&] {
    if (read_all && retrying == 0) node.stop();
  };
  // Runs on the loop thread. A full channel (on_full: block, for longer than block_timeout)
  // throws: the line is tried again shortly, never dropped.
  std::function<void(const wordcount::Line&, bool)> send = [&](const wordcount::Line& line,
                                                               bool retry) {
    try {
      node.emit("out", line);
    } catch (const brook::BackpressureError&) {
      if (!retry) ++retrying;
      node.after(std::chrono::milliseconds(10), [&send, line] { send(line, true); });
      return;
    }
    if (retry) --retrying;
    room.release();
    finish_if_done();
  };
  node.on_ready([&] {
    reader = std::jthread([&] {
      std::ifstream in(file);
      if (!in) BROOK_LOG(kError) << file << ": cannot open";
      std::string text;
      for (std::uint64_t id = 1; !stopping && std::getline(in, text); ++id) {
        while (!room.try_acquire_for(std::chrono::milliseconds(100))) {
          if (stopping) return;
        }
        node.post([&send, line = wordcount::Line{id, std::move(text)}] { send(line, false); });
      }
      node.post([&] {  // after every line: posts run in order
        read_all = true;
        finish_if_done();
      });
    });
  });
  node.on_stop([&] { stopping = true; });
  const int code = node.run();
  stopping = true;
  return code;  // ~jthread joins the reader, which sees `stopping`
}
