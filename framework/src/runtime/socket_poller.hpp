// zmq_poll with fewer system calls, for the node's loop.
//
// zmq_poll reads ZMQ_EVENTS of every socket twice per wake-up (a zero-timeout pass first), and
// each read is a poll() plus a getpid() inside libzmq: with a node's five or six sockets that is
// ~20 system calls per wake-up, which on a VM cost more than the message. SocketPoller waits on
// the sockets' ZMQ_FDs with one poll() and reads ZMQ_EVENTS only where it can have changed:
//
// - ZMQ_FD becomes readable when commands reach the socket (a message arrived, a peer became
//   writable, ...), and reading ZMQ_EVENTS consumes them. But any send or receive on the socket
//   consumes them too, so a socket the caller used may hold events its fd will not announce
//   again. The caller marks those with recheck(); sockets created with `always` set (the ones
//   sent on from anywhere: inputs that send acks, outputs) are rechecked on every wait.
// - A socket that fired is read; one that is not polled this time (events 0) is rechecked when
//   it is polled again. An item with events 0 is left out of the poll() altogether, so a plain
//   fd that hung up does not make every wait return at once.
//
// Not thread-safe; the loop's thread only. Does not own the sockets.
#pragma once

#include <poll.h>

#include <cstddef>
#include <vector>
#include <zmq.hpp>

namespace brook::detail {

class SocketPoller {
 public:
  // A new set: `items` as for zmq_poll (socket, or fd when socket is null); `always[i]`: recheck
  // item i on every wait. Every socket is read on the next wait.
  void reset(std::vector<zmq::pollitem_t> items, std::vector<bool> always);

  // Set `events` here before wait(); wait() fills `revents`.
  std::vector<zmq::pollitem_t>& items() noexcept { return items_; }
  std::size_t size() const noexcept { return items_.size(); }

  // Item i was used (sent or received on): read its ZMQ_EVENTS on the next wait.
  void recheck(std::size_t i) noexcept { check_[i] = 1; }
  void recheck_all() noexcept;

  // Waits up to `timeout_ms` (0: do not block) for an item's events, like zmq_poll. Returns the
  // number of items with revents; 0 on timeout or EINTR. Throws ZmqError on other failures.
  int wait(int timeout_ms);

 private:
  // Fills item i's revents; on EINTR leaves it flagged for the next wait.
  bool read_events(std::size_t i);

  std::vector<zmq::pollitem_t> items_;
  std::vector<pollfd> fds_;
  std::vector<char> always_;
  std::vector<char> check_;
};

}  // namespace brook::detail
