// The event loop shared by the node, the directory and the launcher, over real zmq sockets
// (inproc://) and pipes: readers, groups, add/remove during dispatch, timers, sources, posts.
#include "runtime/reactor.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

namespace brook::detail {
namespace {

using namespace std::chrono_literals;
using Clock = Reactor::Clock;
using Group = Reactor::Group;
using Mode = Reactor::Mode;

// A connected PAIR over inproc: `in` is what the reactor reads, `out` the peer that sends.
struct Pair {
  Pair(zmq::context_t& ctx, const std::string& name)
      : in(ctx, zmq::socket_type::pair), out(ctx, zmq::socket_type::pair) {
    in.bind("inproc://" + name);
    out.connect("inproc://" + name);
  }
  void send(const std::string& s) { out.send(zmq::buffer(s), zmq::send_flags::none); }
  // Everything waiting on `in`.
  std::vector<std::string> take() {
    std::vector<std::string> got;
    zmq::message_t m;
    while (in.recv(m, zmq::recv_flags::dontwait))
      got.push_back(m.to_string());
    return got;
  }
  zmq::socket_t in;
  zmq::socket_t out;
};

// A pipe whose read end is non-blocking; closes what is still open.
struct Pipe {
  Pipe() { EXPECT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0); }
  ~Pipe() {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
  void write(const std::string& s) {
    ASSERT_EQ(::write(fds[1], s.data(), s.size()), static_cast<ssize_t>(s.size()));
  }
  void close_write() {
    ::close(fds[1]);
    fds[1] = -1;
  }
  int read_fd() const { return fds[0]; }
  int fds[2] = {-1, -1};
};

// Runs passes until `done` or `limit` passed; false on timeout.
template <class Done>
bool run_until(Reactor& r, Done done, std::chrono::milliseconds limit = 5s,
               Mode mode = Mode::kAll) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    r.run_once(deadline, mode);
  }
  return true;
}

TEST(Reactor, ASocketReaderFiresWhenAMessageArrives) {
  zmq::context_t ctx;
  Pair p(ctx, "reactor-fires");
  Reactor r;
  std::vector<std::string> got;
  short seen = 0;
  r.add_socket(p.in, ZMQ_POLLIN, [&](short revents) {
    seen = revents;
    for (auto& s : p.take())
      got.push_back(s);
  });
  p.send("hello");
  ASSERT_TRUE(run_until(r, [&] { return !got.empty(); }));
  EXPECT_EQ(got, std::vector<std::string>{"hello"});
  EXPECT_EQ(seen, ZMQ_POLLIN);
  EXPECT_EQ(r.run_once(Clock::now() + 5ms), 0) << "nothing more to read";
}

TEST(Reactor, AReaderStoppedAtItsBatchLimitIsCalledAgainWithoutBlocking) {
  zmq::context_t ctx;
  Pair p(ctx, "reactor-batch");
  Reactor r;
  int calls = 0;
  int got = 0;
  r.add_socket(p.in, ZMQ_POLLIN, [&](short) {
    ++calls;
    zmq::message_t m;
    if (p.in.recv(m, zmq::recv_flags::dontwait)) ++got;  // a batch of one
  });
  for (int i = 0; i < 5; ++i)
    p.send("m");
  const auto begin = Clock::now();
  ASSERT_TRUE(run_until(r, [&] { return got == 5; }));
  EXPECT_LT(Clock::now() - begin, 900ms) << "not one blocked poll per message";
  EXPECT_EQ(calls, 5);
}

TEST(Reactor, InterestZeroLeavesTheReaderUnpolledUntilItAsksAgain) {
  zmq::context_t ctx;
  Pair p(ctx, "reactor-interest");
  Reactor r;
  short interest = 0;
  int fired = 0;
  r.add_socket(
      p.in, [&] { return interest; }, [&](short) { fired += static_cast<int>(p.take().size()); });
  p.send("x");
  const auto begin = Clock::now();
  EXPECT_EQ(r.run_once(begin + 20ms), 0);
  EXPECT_GE(Clock::now() - begin, 19ms) << "it waited for the deadline";
  EXPECT_EQ(fired, 0);
  interest = ZMQ_POLLIN;
  ASSERT_TRUE(run_until(r, [&] { return fired == 1; }));
}

TEST(Reactor, ControlOnlyLeavesDataReadersTimersAndPostsForTheNextAll) {
  zmq::context_t ctx;
  Pair control(ctx, "reactor-control");
  Pair data(ctx, "reactor-data");
  Reactor r;
  std::vector<std::string> order;
  r.add_socket(control.in, ZMQ_POLLIN, [&](short) {
    for (auto& s : control.take())
      order.push_back("control " + s);
  });
  r.add_socket(data.in, ZMQ_POLLIN,
               [&](short) {
                 for (auto& s : data.take())
                   order.push_back("data " + s);
               },
               {.group = Group::kData, .recheck_always = false});
  r.add_timer(Clock::now(), 0ms, false, [&] { order.push_back("timer"); });
  r.post([&] { order.push_back("post"); });
  int data_ticks = 0;
  r.add_source([] { return Clock::time_point::max(); }, [&](Clock::time_point) { ++data_ticks; },
               Group::kData);
  data.send("d");
  control.send("c");

  ASSERT_TRUE(run_until(
      r, [&] { return !order.empty(); }, 5s, Mode::kControlOnly));
  const auto begin = Clock::now();
  r.run_once(begin + 20ms, Mode::kControlOnly);
  EXPECT_GE(Clock::now() - begin, 19ms) << "a due timer, a post or data do not wake kControlOnly";
  EXPECT_EQ(order, std::vector<std::string>{"control c"});
  EXPECT_EQ(data_ticks, 0);

  ASSERT_TRUE(run_until(r, [&] { return order.size() == 4; }));
  EXPECT_EQ(order, (std::vector<std::string>{"control c", "data d", "timer", "post"}))
      << "readers, then timers, then posts";
  EXPECT_GT(data_ticks, 0);
}

TEST(Reactor, AReaderRemovedInsideItsOwnHandlerIsNotCalledAgain) {
  zmq::context_t ctx;
  Pair p(ctx, "reactor-remove-self");
  Reactor r;
  int calls = 0;
  Reactor::ReaderId id = 0;
  id = r.add_socket(p.in, ZMQ_POLLIN, [&](short) {
    ++calls;
    r.remove(id);  // leaves the message unread
  });
  p.send("x");
  ASSERT_TRUE(run_until(r, [&] { return calls == 1; }));
  const auto begin = Clock::now();
  EXPECT_EQ(r.run_once(begin + 20ms), 0);
  EXPECT_EQ(calls, 1);
  EXPECT_GE(Clock::now() - begin, 19ms) << "its socket is no longer polled";
  EXPECT_EQ(p.take().size(), 1u);
}

TEST(Reactor, AReaderRemovedByAnotherHandlerDoesNotRunLaterInThePass) {
  zmq::context_t ctx;
  Pair a(ctx, "reactor-remove-a");
  Pair b(ctx, "reactor-remove-b");
  Reactor r;
  std::vector<std::string> calls;
  Reactor::ReaderId ida = 0;
  Reactor::ReaderId idb = 0;
  // Whichever runs first removes the other, whose message is ready in the same pass.
  ida = r.add_socket(a.in, ZMQ_POLLIN, [&](short) {
    calls.push_back("a");
    a.take();
    r.remove(idb);
  });
  idb = r.add_socket(b.in, ZMQ_POLLIN, [&](short) {
    calls.push_back("b");
    b.take();
    r.remove(ida);
  });
  a.send("x");
  b.send("y");
  // Both are read on the first wait after the poll set is built, so they fire in one pass.
  EXPECT_EQ(r.run_once(Clock::now() + 1s), 1);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(r.run_once(Clock::now() + 20ms), 0);
  EXPECT_EQ(calls.size(), 1u);
}

TEST(Reactor, ASocketAddedByAHandlerIsPolledFromTheNextPass) {
  zmq::context_t ctx;
  Pair first(ctx, "reactor-add-first");
  Pair second(ctx, "reactor-add-second");
  Reactor r;
  std::vector<std::string> got;
  second.send("later");
  r.add_socket(first.in, ZMQ_POLLIN, [&](short) {
    for (auto& s : first.take())
      got.push_back(s);
    r.add_socket(second.in, ZMQ_POLLIN, [&](short) {
      for (auto& s : second.take())
        got.push_back(s);
    });
  });
  first.send("now");
  ASSERT_TRUE(run_until(r, [&] { return got.size() == 2; }));
  EXPECT_EQ(got, (std::vector<std::string>{"now", "later"}));
}

TEST(Reactor, RecheckFindsAMessageWhoseNotificationWasConsumedOutsideTheHandler) {
  zmq::context_t ctx;
  Pair p(ctx, "reactor-recheck");
  Reactor r;
  int fired = 0;
  const auto id =
      r.add_socket(p.in, ZMQ_POLLIN, [&](short) { fired += static_cast<int>(p.take().size()); });
  EXPECT_EQ(r.run_once(Clock::now() + 1ms), 0);  // the poll set is built and read
  p.send("1");
  p.send("2");
  zmq::message_t m;
  ASSERT_TRUE(p.in.recv(m, zmq::recv_flags::none));  // takes "1" and the fd's notification
  r.recheck(id);
  const auto begin = Clock::now();
  ASSERT_TRUE(run_until(
      r, [&] { return fired == 1; }, 5s));
  EXPECT_LT(Clock::now() - begin, 500ms);
}

TEST(Reactor, ADrainingReaderStoppedEarlyIsCalledAgainWhenItAsksAndOnTheNextMessage) {
  zmq::context_t ctx;
  Pair p(ctx, "reactor-drains");
  Reactor r;
  std::vector<std::string> got;
  ReaderOptions o;
  o.drains = true;
  Reactor::ReaderId id = 0;
  // Takes one message a call, as a handler at its batch limit does, and asks to be called again.
  id = r.add_socket(
      p.in, ZMQ_POLLIN,
      [&](short) {
        zmq::message_t m;
        if (!p.in.recv(m, zmq::recv_flags::dontwait)) return;
        got.push_back(m.to_string());
        r.recheck(id);
      },
      o);
  EXPECT_EQ(r.run_once(Clock::now() + 1ms), 0);
  for (const char* s : {"1", "2", "3"})
    p.send(s);
  const auto begin = Clock::now();
  ASSERT_TRUE(run_until(
      r, [&] { return got.size() == 3; }, 5s));
  EXPECT_LT(Clock::now() - begin, 500ms);        // no wait for a notification that does not come
  EXPECT_EQ(r.run_once(Clock::now() + 1ms), 0);  // nothing left
  p.send("4");
  const auto again = Clock::now();
  ASSERT_TRUE(run_until(
      r, [&] { return got.size() == 4; }, 5s));
  EXPECT_LT(Clock::now() - again, 500ms);
  EXPECT_EQ(got, (std::vector<std::string>{"1", "2", "3", "4"}));
}

TEST(Reactor, OneShotAndPeriodicTimersAndCancelFromTheirOwnCallback) {
  Reactor r;
  const auto now = Clock::now();
  int once = 0;
  int periodic = 0;
  TimerId periodic_id = 0;
  r.add_timer(now + 2ms, 0ms, false, [&] { ++once; });
  periodic_id = r.add_timer(now, 2ms, true, [&] {
    if (++periodic == 3) r.cancel_timer(periodic_id);
  });
  ASSERT_TRUE(run_until(r, [&] { return periodic == 3 && once == 1; }));
  const auto begin = Clock::now();
  EXPECT_EQ(r.run_once(begin + 20ms), 0);
  EXPECT_GE(Clock::now() - begin, 19ms) << "no timer is left to wake it";
  EXPECT_EQ(once, 1);
  EXPECT_EQ(periodic, 3);
}

TEST(Reactor, ThrowingTimersAndPostsGoToOnError) {
  Reactor r;
  std::vector<std::string> errors;
  std::vector<int> ran;
  r.on_error([&](const std::exception& e) { errors.push_back(e.what()); });
  r.add_timer(Clock::now(), 0ms, false, [] { throw std::runtime_error("timer"); });
  r.post([] { throw std::runtime_error("post"); });
  r.post([&] { ran.push_back(2); });
  ASSERT_TRUE(run_until(r, [&] { return errors.size() == 2 && ran.size() == 1; }));
  EXPECT_EQ(errors, (std::vector<std::string>{"timer", "post"}));
}

TEST(Reactor, WithoutOnErrorAThrowingPostLeavesRunOnceAndTheRestStayQueued) {
  Reactor r;
  std::vector<int> ran;
  r.post([&] { ran.push_back(1); });
  r.post([] { throw std::runtime_error("boom"); });
  r.post([&] { ran.push_back(3); });
  EXPECT_THROW(run_until(r, [&] { return ran.size() == 2; }), std::runtime_error);
  EXPECT_EQ(ran, std::vector<int>{1});
  ASSERT_TRUE(run_until(
      r, [&] { return ran.size() == 2; }, 1s));
  EXPECT_EQ(ran, (std::vector<int>{1, 3}));
}

TEST(Reactor, AWakeUpLessThanAMillisecondAwayDoesNotSpin) {
  Reactor r;
  // A source that always wants a tick 0.4 ms from now, and a timer 20 ms away: rounded down to
  // whole milliseconds either would poll with timeout 0 over and over.
  r.add_source([] { return Clock::now() + 400us; }, [](Clock::time_point) {});
  bool fired = false;
  r.add_timer(Clock::now() + 20ms, 0ms, false, [&] { fired = true; });
  int passes = 0;
  const auto deadline = Clock::now() + 5s;
  while (!fired && Clock::now() < deadline) {
    r.run_once(deadline);
    ++passes;
  }
  EXPECT_TRUE(fired);
  EXPECT_LE(passes, 30) << "one pass per millisecond at most";
}

TEST(Reactor, AnUnreachedDeadlineIsReachedWithoutSpinning) {
  Reactor r;
  bool fired = false;
  r.add_timer(Clock::now() + 20ms, 0ms, false, [&] { fired = true; });
  int passes = 0;
  while (!fired && passes < 1000) {
    r.run_once(Clock::time_point::max());
    ++passes;
  }
  EXPECT_TRUE(fired);
  EXPECT_LE(passes, 3);
}

TEST(Reactor, OnePollBlocksAtMostASecond) {
  Reactor r;
  const auto begin = Clock::now();
  EXPECT_EQ(r.run_once(Clock::time_point::max()), 0);
  const auto took = Clock::now() - begin;
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 3s);
}

TEST(Reactor, PostFromAnotherThreadWakesABlockedPassAndRunsInOrder) {
  Reactor r;
  std::vector<int> ran;
  std::thread poster([&] {
    for (int i = 0; i < 100; ++i)
      r.post([&ran, i] { ran.push_back(i); });
  });
  const auto begin = Clock::now();
  ASSERT_TRUE(run_until(
      r, [&] { return ran.size() == 100; }, 5s));
  EXPECT_LT(Clock::now() - begin, 900ms) << "woken by the post, not by the 1 s poll cap";
  poster.join();
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(ran[static_cast<std::size_t>(i)], i);
}

TEST(Reactor, PostBeforeTheLoopStartsAndFromInsideIt) {
  Reactor r;
  std::vector<std::string> ran;
  r.post([&] {
    ran.push_back("before");
    r.post([&] { ran.push_back("inside"); });
  });
  const auto begin = Clock::now();
  ASSERT_TRUE(run_until(
      r, [&] { return ran.size() == 2; }, 5s));
  EXPECT_LT(Clock::now() - begin, 900ms);
  EXPECT_EQ(ran, (std::vector<std::string>{"before", "inside"}));
}

TEST(Reactor, ASourceWakesThePollAndTicksAfterEveryPoll) {
  Reactor r;
  auto due = Clock::now() + 10ms;
  std::vector<Clock::time_point> ticks;
  const auto id = r.add_source([&] { return due; },
                               [&](Clock::time_point now) {
                                 ticks.push_back(now);
                                 if (now >= due) due = Clock::time_point::max();
                               });
  const auto begin = Clock::now();
  ASSERT_TRUE(run_until(
      r, [&] { return due == Clock::time_point::max(); }, 900ms));
  EXPECT_GE(ticks.back() - begin, 10ms);
  EXPECT_LE(ticks.size(), 3u);
  r.remove_source(id);
  const auto before = ticks.size();
  r.run_once(Clock::now());
  EXPECT_EQ(ticks.size(), before) << "removed";
}

TEST(Reactor, PollAgainMakesTheNextAllPassNonBlocking) {
  Reactor r;
  r.poll_again();
  auto begin = Clock::now();
  r.run_once(begin + 20ms, Mode::kControlOnly);  // leaves the request to the next kAll
  EXPECT_GE(Clock::now() - begin, 19ms);
  begin = Clock::now();
  r.run_once(begin + 5s);
  EXPECT_LT(Clock::now() - begin, 500ms);
  begin = Clock::now();
  r.run_once(begin + 20ms);
  EXPECT_GE(Clock::now() - begin, 19ms) << "only once";
}

TEST(Reactor, AnFdReaderSeesDataThenEndOfFile) {
  Pipe pipe;
  Reactor r;
  std::string got;
  bool eof = false;
  Reactor::ReaderId id = 0;
  id = r.add_fd(pipe.read_fd(), ZMQ_POLLIN, [&](short revents) {
    EXPECT_EQ(revents, ZMQ_POLLIN);
    char buf[64];
    const ssize_t n = ::read(pipe.read_fd(), buf, sizeof buf);
    if (n > 0) got.append(buf, static_cast<std::size_t>(n));
    if (n == 0) {
      eof = true;
      r.remove(id);
    }
  });
  pipe.write("abc");
  ASSERT_TRUE(run_until(r, [&] { return got == "abc"; }));
  pipe.close_write();
  ASSERT_TRUE(run_until(r, [&] { return eof; }));
  const auto begin = Clock::now();
  EXPECT_EQ(r.run_once(begin + 20ms), 0);
  EXPECT_GE(Clock::now() - begin, 19ms);
}

TEST(Reactor, AHungUpFdThatIsNotPolledDoesNotWakeThePoll) {
  Pipe pipe;
  pipe.close_write();
  Reactor r;
  int fired = 0;
  r.add_fd(pipe.read_fd(), ZMQ_POLLIN, [&](short) { ++fired; }, {.group = Group::kData});
  int passes = 0;
  const auto deadline = Clock::now() + 20ms;
  while (Clock::now() < deadline && passes < 1000) {
    r.run_once(deadline, Mode::kControlOnly);
    ++passes;
  }
  EXPECT_LE(passes, 3);
  EXPECT_EQ(fired, 0);
}

TEST(Reactor, AHandlerWaitingOnControlOnlyServesControlReadersOnce) {
  zmq::context_t ctx;
  Pair control(ctx, "reactor-nested-control");
  Pair data(ctx, "reactor-nested-data");
  Reactor r;
  int control_calls = 0;
  int control_msgs = 0;
  bool nested_all_threw = false;
  // The data reader comes first in the pass, so control's handler has not run yet when it waits.
  r.add_socket(data.in, ZMQ_POLLIN,
               [&](short) {
                 data.take();
                 // As emit() blocked on a full queue would: wait for control work only.
                 try {
                   r.run_once(Clock::now(), Mode::kAll);
                 } catch (const std::logic_error&) {
                   nested_all_threw = true;
                 }
                 const auto deadline = Clock::now() + 5s;
                 while (control_msgs == 0 && Clock::now() < deadline)
                   r.run_once(deadline, Mode::kControlOnly);
               },
               {.group = Group::kData});
  r.add_socket(control.in, ZMQ_POLLIN, [&](short) {
    ++control_calls;
    control_msgs += static_cast<int>(control.take().size());
  });
  data.send("d");
  control.send("c");  // both ready in the outer pass; the nested pass serves control
  ASSERT_TRUE(run_until(r, [&] { return control_msgs == 1; }));
  EXPECT_TRUE(nested_all_threw);
  EXPECT_EQ(r.run_once(Clock::now() + 5ms), 0);
  EXPECT_EQ(control_calls, 1) << "the outer pass skips what the nested one served";
}

}  // namespace
}  // namespace brook::detail
