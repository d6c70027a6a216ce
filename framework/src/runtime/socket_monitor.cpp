#include "runtime/socket_monitor.hpp"

#include <atomic>
#include <brook/error.hpp>
#include <cstring>

namespace brook::detail {

namespace {
std::atomic<std::uint64_t> g_monitor_counter{0};
}

SocketMonitor::SocketMonitor(zmq::context_t& context, zmq::socket_t& socket, int events)
    : watched_(&socket), pair_(context, zmq::socket_type::pair) {
  address_ = "inproc://brook-monitor-" + std::to_string(++g_monitor_counter);
  if (zmq_socket_monitor(socket.handle(), address_.c_str(), events) != 0) {
    throw ZmqError(zmq_errno(), "zmq_socket_monitor");
  }
  pair_.set(zmq::sockopt::linger, 0);
  pair_.connect(address_);
}

SocketMonitor::~SocketMonitor() {
  if (watched_->handle() != nullptr) zmq_socket_monitor(watched_->handle(), nullptr, 0);
}

void SocketMonitor::drain(
    const std::function<void(int event, std::int32_t value, const std::string& endpoint)>& fn) {
  for (int i = 0; i < 1000; ++i) {
    zmq::message_t head;
    if (!pair_.recv(head, zmq::recv_flags::dontwait)) return;
    if (!head.more()) continue;
    zmq::message_t addr;
    if (!pair_.recv(addr, zmq::recv_flags::none)) return;
    if (head.size() < 6) continue;
    std::uint16_t event = 0;
    std::int32_t value = 0;
    std::memcpy(&event, head.data(), 2);
    std::memcpy(&value, static_cast<const char*>(head.data()) + 2, 4);
    fn(event, value, addr.to_string());
  }
}

}  // namespace brook::detail
