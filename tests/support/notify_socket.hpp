// Test support: a fake systemd's end of sd_notify(3), a datagram socket bound at a path that a
// child gets as $NOTIFY_SOCKET; the test waits on what the child says.
#pragma once

#include <chrono>
#include <string>

namespace brook::test {

class NotifySocket {
 public:
  explicit NotifySocket(std::string path);  // binds it (a test failure when it cannot)
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& path() const { return path_; }
  // Datagrams until one contains `what` (returned), or "" at the deadline.
  std::string wait_for(const std::string& what, std::chrono::milliseconds within);

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace brook::test
