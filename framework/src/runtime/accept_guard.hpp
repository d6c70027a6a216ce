// Keeps a bound socket from spinning when the process is out of file descriptors. libzmq (4.3)
// retries a failed accept() at once, for as long as the connection waits in the kernel's
// backlog: at its open-file limit a node with connections queued burnt a CPU core on that loop
// (and with a monitor, one ACCEPT_FAILED event per retry). On such a failure (EMFILE, ENFILE,
// ENOBUFS, ENOMEM) the guard counts it, logs it (rate-limited) with the fix, and stops
// listening: it unbinds the endpoint, which also closes that endpoint's connections (freeing
// their descriptors; producers reconnect by themselves), and binds the same endpoint again after
// a backoff: 50 ms, doubling on each failure in a row up to 1 s.
#pragma once

#include <brook/log.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <zmq.hpp>

namespace brook::detail {

class AcceptGuard {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kMinBackoff{50};
  static constexpr std::chrono::milliseconds kMaxBackoff{1000};

  // `what` names the socket in logs ("input 'in' (channel 'work')"); `failures` counts accept()
  // calls that failed (the channel's `accept_failed`).
  AcceptGuard(zmq::socket_t& socket, std::string what, std::uint64_t& failures);

  // After the socket was bound to `endpoint` (its resolved address, e.g. tcp://127.0.0.1:40123).
  void bound(const std::string& endpoint);
  // A ZMQ_EVENT_ACCEPT_FAILED of the socket, `error` its errno.
  void accept_failed(int error, Clock::time_point now);
  // When tick() has work: the time to listen again (max while listening).
  Clock::time_point next_wakeup() const noexcept { return rebind_at_; }
  void tick(Clock::time_point now);
  bool listening() const noexcept { return listening_; }

 private:
  zmq::socket_t* socket_;
  std::string what_;
  std::uint64_t* failures_;
  std::string endpoint_;
  bool listening_ = false;
  std::chrono::milliseconds backoff_{kMinBackoff};
  Clock::time_point rebind_at_ = Clock::time_point::max();
  Clock::time_point listening_since_{};
  LogRateLimiter failed_log_;
  LogRateLimiter rebind_log_;
};

}  // namespace brook::detail
