// Process lifecycle helpers shared by nodes, the directory and the launcher: readiness
// notification (so a launcher or test never races a half-started process) and a stop signal
// that can be polled next to ZeroMQ sockets.
#pragma once

#include <signal.h>

#include <atomic>
#include <string>
#include <string_view>

namespace brook {

// Name of the environment variable holding a file descriptor to which a process writes one line
// "READY <detail>\n" once it is ready, then closes it. Launchers pass a pipe's write end.
inline constexpr const char* kReadyFdEnv = "BROOK_READY_FD";

// Writes the READY line if BROOK_READY_FD is set, and tells systemd READY=1 with `detail` as
// STATUS when $NOTIFY_SOCKET is set (once per process; later calls do nothing). Never blocks for
// long: the launcher reads the pipe. Safe from any thread.
void notify_ready(std::string_view detail);

// Tells systemd STOPPING=1 with `why` as STATUS when $NOTIFY_SOCKET is set (once per process).
void notify_stopping(std::string_view why);

// Name of the environment variable holding a file descriptor to which a node writes one line
// "STOPPED <detail>\n" when it stops (`brook up` passes a pipe's write end and reads it once the
// node exited: how many messages the node dead-lettered, dropped or failed, whatever its log
// level).
inline constexpr const char* kReportFdEnv = "BROOK_REPORT_FD";

// Writes the STOPPED line if BROOK_REPORT_FD is set (once per process), without blocking, then
// closes the descriptor.
void report_stop(std::string_view detail);

// A file descriptor that becomes readable when request_stop() is called (from any thread) and,
// with catch_signals, when SIGINT or SIGTERM arrives; only one signal-catching instance may exist
// at a time, and SIGPIPE is ignored while it lives.
//
// With catch_signals the constructing thread blocks SIGINT and SIGTERM (threads it starts later,
// such as libzmq's, inherit that) and receives them through a signalfd behind fd(): a signal never
// interrupts a ZeroMQ call on that thread with EINTR. A thread that still has them unblocked gets
// them through a handler that records them the same way. The destructor restores the mask.
// Construct it on the thread that polls fd(), before creating threads.
class StopSignal {
 public:
  explicit StopSignal(bool catch_signals = true);
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  // Poll it for POLLIN; then call consume(). Not for read().
  int fd() const noexcept { return poll_fd_; }
  // Takes what made fd() readable; returns how many stop requests and signals that was.
  int consume() noexcept;
  bool requested() const noexcept;
  // A stop request, or a signal already taken from the signalfd: requested() without its read()
  // of the signalfd, for checks made on every timer tick.
  bool seen() const noexcept;
  // Name of the signal that arrived ("SIGTERM"), or "stop()" for request_stop(); empty if none.
  std::string reason() const;
  // Async-signal-safe and thread-safe.
  void request_stop() noexcept;

 private:
  // Reads the signals waiting in the signalfd and records them; returns how many.
  int take_signals() const noexcept;

  bool catch_signals_;
  std::atomic<bool> requested_{false};
  int read_fd_ = -1;
  int write_fd_ = -1;
  int signal_fd_ = -1;  // with catch_signals
  int poll_fd_ = -1;    // read_fd_, or an epoll set of read_fd_ and signal_fd_
  sigset_t old_mask_{};
};

}  // namespace brook
