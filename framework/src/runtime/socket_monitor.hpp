// Watches a socket's connection events through libzmq's socket monitor, so the runtime knows
// which peers are really connected (handshake done) instead of guessing with sleeps.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <zmq.hpp>

namespace brook::detail {

class SocketMonitor {
 public:
  // Events: ZMQ_EVENT_* bits to watch on `socket`. The monitor's PAIR socket is polled by the
  // owner's loop (handle()) and read with drain().
  SocketMonitor(zmq::context_t& context, zmq::socket_t& socket, int events);
  ~SocketMonitor();
  SocketMonitor(const SocketMonitor&) = delete;
  SocketMonitor& operator=(const SocketMonitor&) = delete;

  void* handle() noexcept { return pair_.handle(); }

  // Reads every queued event and calls fn(event, value, endpoint) for each.
  void drain(
      const std::function<void(int event, std::int32_t value, const std::string& endpoint)>& fn);

 private:
  zmq::socket_t* watched_;
  zmq::socket_t pair_;
  std::string address_;
};

}  // namespace brook::detail
