// The event loop of a node, the directory and the launcher: readers (a zmq socket or an fd, with
// a handler), wake-up sources, timers, and functions posted from other threads, served by one
// poll per run_once() on a SocketPoller (one poll() over the ZMQ_FDs, ZMQ_EVENTS read only where
// it may have changed).
//
// Groups: kData readers, sources and timers and the posted functions run user code (handlers);
// run_once(kControlOnly) leaves them alone and polls only kControl readers (the framework's own:
// stop fd, directory, monitors). A node waiting inside a handler (emit() on a full queue) loops on
// kControlOnly, so handlers never nest; run_once(kAll) from inside any callback throws.
//
// Invariants:
// - A reader whose handler ran is rechecked on the next poll (unless it `drains`): a handler that
//   stopped at a batch limit is called again without blocking. Any other send or receive on a
//   reader's socket (bind and unbind too) consumes its notifications: call recheck(id), or
//   register it with recheck_always.
// - A handler may be called with nothing left to read (a nested kControlOnly pass took it):
//   read with dontwait.
// - add/remove are safe from any callback; a removed reader's or source's callback does not run
//   again, even later in the same pass. A reader added during a pass is polled from the next one.
//   Its socket or fd may be closed once remove() returned.
// - interest() and next() must not add or remove anything.
// - Ids are never 0; removing or rechecking an unknown id does nothing.
//
// Cost per run_once in steady state: no allocation; one interest() call per reader, one next()
// and one tick() per source, two clock reads, TimerQueue's scan of its timers; the poll set is
// rebuilt (and every socket's ZMQ_EVENTS read once) only after an add or a remove.
//
// Not thread-safe except post(); the loop's thread only. Owns no socket or fd but its eventfd.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>
#include <zmq.hpp>

#include "runtime/socket_poller.hpp"
#include "runtime/timer_queue.hpp"

namespace brook::detail {

enum class ReactorGroup { kControl, kData };

struct ReaderOptions {
  ReactorGroup group = ReactorGroup::kControl;
  // Sent or received on from outside its handler, anywhere (a node's outputs, inputs that ack):
  // read its ZMQ_EVENTS before every poll instead of calling recheck() each time.
  bool recheck_always = false;
  // Its handler reads until the socket has nothing left, or calls recheck() when it stops
  // before (a batch limit): its ZMQ_EVENTS need no read after the handler. A receive that finds
  // the socket empty has taken in every notification, so the socket's fd announces the next;
  // the read would cost a poll() and a getpid() inside libzmq per wake-up.
  bool drains = false;
};

class Reactor {
 public:
  using Clock = std::chrono::steady_clock;
  using ReaderId = std::uint64_t;
  using SourceId = std::uint64_t;
  using Group = ReactorGroup;
  using ReaderOptions = detail::ReaderOptions;
  enum class Mode { kAll, kControlOnly };
  static constexpr std::chrono::milliseconds kMaxWait{1000};  // one poll never blocks longer

  Reactor();  // throws brook::Error when no eventfd can be made
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // `interest` says before every poll which events (ZMQ_POLLIN | ZMQ_POLLOUT; 0 = not now) the
  // reader waits for; `fn(revents)` runs on the loop thread when they occur.
  ReaderId add_socket(zmq::socket_ref s, std::function<short()> interest,
                      std::function<void(short)> fn, ReaderOptions o = {});
  ReaderId add_socket(zmq::socket_ref s, short events, std::function<void(short)> fn,
                      ReaderOptions o = {});
  // A plain fd, level-triggered; hang-up and error count as ZMQ_POLLIN (read() sees EOF).
  ReaderId add_fd(int fd, short events, std::function<void(short)> fn, ReaderOptions o = {});
  void remove(ReaderId id);
  void recheck(ReaderId id) noexcept;
  void recheck_all() noexcept;

  // A wake-up source: `next()` says when it next needs a tick (time_point::max() = not on its
  // own); `tick(now)` runs after every poll (in the modes that serve its group), due or not.
  SourceId add_source(std::function<Clock::time_point()> next,
                      std::function<void(Clock::time_point)> tick, Group g = Group::kControl);
  void remove_source(SourceId id);

  // Timers belong to kData. A callback may add or cancel timers, its own too.
  TimerId add_timer(Clock::time_point first, std::chrono::milliseconds period, bool periodic,
                    std::function<void()> fn);
  void cancel_timer(TimerId id);
  // Called with what a timer or a posted function threw, then the loop goes on. Without it the
  // exception leaves run_once (the timer is already rescheduled or gone; the functions posted
  // after the one that threw stay queued).
  void on_error(std::function<void(const std::exception&)> fn);

  // Thread-safe, from any thread, also before the loop runs: `fn` runs on the loop thread in a
  // later run_once(kAll), functions in the order posted. Wakes a blocked run_once.
  void post(std::function<void()> fn);

  // The next run_once(kAll) does not block (kControlOnly calls leave the request to it, so a
  // caller looping on them does not spin). For work the poll cannot see: a reader at its batch
  // limit needs none, it is rechecked anyway.
  void poll_again() noexcept { again_ = true; }

  // One poll and dispatch: waits until `deadline` (at most kMaxWait; rounded up to whole ms, so a
  // wake-up 0.4 ms away does not spin), a reader's events, the earliest timer or source wake-up,
  // or a post; then runs the ready readers' handlers, due timers, sources' ticks and posted
  // functions, in that order. Returns how many readers' handlers ran. Handler exceptions leave it.
  int run_once(Clock::time_point deadline, Mode mode = Mode::kAll);

 private:
  struct Reader {
    ReaderId id = 0;
    void* socket = nullptr;
    int fd = -1;
    short events = 0;
    std::function<short()> interest;  // empty: `events`
    std::function<void(short)> fn;
    ReaderOptions options;
    bool removed = false;
    int slot = -1;             // its item in poller_; -1 until the next rebuild
    std::uint64_t served = 0;  // the pass that last ran fn
  };
  struct Source {
    SourceId id = 0;
    std::function<Clock::time_point()> next;
    std::function<void(Clock::time_point)> tick;
    Group group = Group::kControl;
    bool removed = false;
  };
  struct Ready {
    Reader* reader;
    short revents;
  };
  class Depth;

  ReaderId add(void* socket, int fd, short events, std::function<short()> interest,
               std::function<void(short)> fn, ReaderOptions o);
  Reader* find(ReaderId id) noexcept;
  void rebuild();
  int timeout_ms(Clock::time_point deadline, bool all);
  void sweep() noexcept;
  void wake() noexcept;
  void run_posted();

  std::vector<std::unique_ptr<Reader>> readers_;  // ordered by id
  std::vector<std::unique_ptr<Source>> sources_;
  ReaderId next_id_ = 1;
  std::uint64_t generation_ = 1;  // bumped by add and remove
  std::uint64_t polled_generation_ = 0;
  SocketPoller poller_;
  std::vector<Reader*> slots_;  // poller_ item i -> its reader; item 0 is wake_fd_
  // What one pass found ready, per nesting depth: a nested pass polls again and must not
  // overwrite the outer pass's list.
  std::deque<std::vector<Ready>> ready_;
  int depth_ = 0;
  std::uint64_t pass_ = 0;
  bool removed_any_ = false;
  bool again_ = false;
  TimerQueue timers_;
  std::function<void(const std::exception&)> on_error_;

  int wake_fd_ = -1;  // eventfd, readable while posts wait
  std::mutex post_mutex_;
  std::vector<std::function<void()>> posted_;  // guarded by post_mutex_
  std::atomic<bool> has_posted_{false};
  std::vector<std::function<void()>> running_;  // the batch being run; loop thread only
};

}  // namespace brook::detail
