// StopSignal: SIGTERM stops a node's loop without interrupting its ZeroMQ calls. A signal that
// lands on the loop thread in the middle of a zmq call makes it fail with EINTR, which cppzmq
// throws; a node once died that way ("fatal: Interrupted system call") when stopped under load.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <zmq.hpp>

#include "util/lifecycle.hpp"

namespace brook {
namespace {

using namespace std::chrono_literals;

TEST(StopSignal, SignalsDoNotInterruptZmqCallsOnTheLoopThread) {
  StopSignal stop(true);
  zmq::context_t ctx;
  zmq::socket_t a(ctx, zmq::socket_type::pair), b(ctx, zmq::socket_type::pair);
  a.bind("inproc://stop-signal-test");
  b.connect("inproc://stop-signal-test");

  // Process-directed signals, as `kill` and `brook up` send them, while this thread is busy in
  // libzmq. Without the mask most of them land here, and one in a zmq call is enough to throw.
  std::atomic<bool> done{false};
  int sent = 0;
  std::thread killer([&] {
    for (; sent < 200 && !done; ++sent) {
      ::kill(::getpid(), SIGTERM);
      std::this_thread::sleep_for(200us);
    }
  });
  std::uint64_t round_trips = 0;
  try {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (sent < 200 && std::chrono::steady_clock::now() < deadline) {
      zmq::message_t m(8);
      (void)a.send(m, zmq::send_flags::none);
      zmq::message_t in;
      (void)b.recv(in, zmq::recv_flags::none);
      ++round_trips;
    }
  } catch (const zmq::error_t& e) {
    ADD_FAILURE() << "a zmq call failed after " << round_trips << " round trips: " << e.what();
  }
  done = true;
  killer.join();
  EXPECT_EQ(sent, 200);

  // They were not lost either: fd() is readable and says SIGTERM.
  pollfd pfd{stop.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 5000), 1);
  EXPECT_GE(stop.consume(), 1);
  EXPECT_TRUE(stop.requested());
  EXPECT_EQ(stop.reason(), "SIGTERM");
}

TEST(StopSignal, RequestStopWakesThePollerFromAnotherThread) {
  StopSignal stop(false);
  EXPECT_FALSE(stop.requested());
  std::thread t([&] { stop.request_stop(); });
  pollfd pfd{stop.fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&pfd, 1, 5000), 1);
  t.join();
  EXPECT_EQ(stop.consume(), 1);
  EXPECT_TRUE(stop.requested());
  EXPECT_EQ(stop.reason(), "stop()");
  pfd.revents = 0;
  EXPECT_EQ(::poll(&pfd, 1, 0), 0) << "consumed";
}

}  // namespace
}  // namespace brook
