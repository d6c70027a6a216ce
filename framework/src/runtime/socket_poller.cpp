#include "runtime/socket_poller.hpp"

#include <brook/error.hpp>
#include <cerrno>

namespace brook::detail {

void SocketPoller::reset(std::vector<zmq::pollitem_t> items, std::vector<bool> always) {
  items_ = std::move(items);
  fds_.assign(items_.size(), pollfd{});
  always_.assign(always.begin(), always.end());
  check_.assign(items_.size(), 1);
  for (std::size_t i = 0; i < items_.size(); ++i) {
    fds_[i].fd = items_[i].fd;
    if (items_[i].socket != nullptr) {
      int fd = -1;
      std::size_t size = sizeof fd;
      if (zmq_getsockopt(items_[i].socket, ZMQ_FD, &fd, &size) != 0) {
        throw ZmqError(zmq_errno(), "zmq_getsockopt(ZMQ_FD)");
      }
      fds_[i].fd = fd;
    }
  }
}

void SocketPoller::recheck_all() noexcept {
  for (auto& c : check_)
    c = 1;
}

bool SocketPoller::read_events(std::size_t i) {
  zmq::pollitem_t& item = items_[i];
  int events = 0;
  std::size_t size = sizeof events;
  if (zmq_getsockopt(item.socket, ZMQ_EVENTS, &events, &size) != 0) {
    // A signal (SIGTERM: the stop pipe says so) interrupted it: nothing known yet.
    if (zmq_errno() == EINTR) {
      check_[i] = 1;  // read it again on the next wait
      return false;
    }
    throw ZmqError(zmq_errno(), "zmq_getsockopt(ZMQ_EVENTS)");
  }
  item.revents = static_cast<short>(events & item.events);
  return item.revents != 0;
}

int SocketPoller::wait(int timeout_ms) {
  int ready = 0;
  for (std::size_t i = 0; i < items_.size(); ++i) {
    zmq::pollitem_t& item = items_[i];
    item.revents = 0;
    fds_[i].revents = 0;
    // For a socket the fd only ever means "read ZMQ_EVENTS"; for a plain fd, what was asked.
    fds_[i].events = item.events == 0 ? 0
                     : item.socket != nullptr
                         ? POLLIN
                         : static_cast<short>(((item.events & ZMQ_POLLIN) ? POLLIN : 0) |
                                              ((item.events & ZMQ_POLLOUT) ? POLLOUT : 0));
    // poll() skips a negative fd: one not watched now cannot wake it with a hang-up or error.
    if ((item.events == 0) != (fds_[i].fd < 0)) fds_[i].fd = ~fds_[i].fd;
    if (item.socket == nullptr) continue;
    if (item.events == 0) {
      check_[i] = 1;  // not watched now: its fd may fire unseen
      continue;
    }
    if (check_[i] || always_[i]) {
      check_[i] = 0;
      if (read_events(i)) ++ready;
    }
  }
  const int n = ::poll(fds_.data(), fds_.size(), ready > 0 ? 0 : timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return ready;
    throw ZmqError(errno, "poll");
  }
  for (std::size_t i = 0; n > 0 && i < items_.size(); ++i) {
    if (fds_[i].revents == 0) continue;
    zmq::pollitem_t& item = items_[i];
    if (item.socket == nullptr) {
      item.revents =
          static_cast<short>(((fds_[i].revents & (POLLIN | POLLHUP | POLLERR)) ? ZMQ_POLLIN : 0) |
                             ((fds_[i].revents & POLLOUT) ? ZMQ_POLLOUT : 0)) &
          item.events;
      if (item.revents != 0) ++ready;
    } else if (item.revents == 0 && read_events(i)) {
      ++ready;
    }
  }
  return ready;
}

}  // namespace brook::detail
