// sd_notify: the datagrams systemd reads from $NOTIFY_SOCKET, sent to a real unix datagram
// socket (a path and an abstract name), and the liveness signals (watchdog, health file).
#include "util/sd_notify.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "util/lifecycle.hpp"

namespace brook {
namespace {

namespace fs = std::filesystem;

// A datagram socket bound at `name` (a leading '@': abstract), closed at the end of the test.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& name) : name_(name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    socklen_t len = offsetof(sockaddr_un, sun_path) + name.size();
    if (name[0] == '@') {
      addr.sun_path[0] = '\0';
    } else {
      ++len;
      fs::remove(name);
    }
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), 0) << std::strerror(errno);
  }
  ~NotifySocket() {
    ::close(fd_);
    if (name_[0] != '@') fs::remove(name_);
  }
  // The next datagram, or "(nothing)" after 5 s.
  std::string receive() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return "(nothing)";
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n < 0 ? "(error)" : std::string(buf, static_cast<std::size_t>(n));
  }
  bool empty() {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }

 private:
  std::string name_;
  int fd_ = -1;
};

std::string temp_name(const char* what) {
  return (fs::temp_directory_path() /
          ("brook-" + std::string(what) + "-" + std::to_string(::getpid())))
      .string();
}

TEST(SdNotify, SendsOneDatagramToAPathSocket) {
  NotifySocket sock(temp_name("notify"));
  EXPECT_TRUE(detail::sd_notify_to(temp_name("notify"), "READY=1\nSTATUS=ready in=x"));
  EXPECT_EQ(sock.receive(), "READY=1\nSTATUS=ready in=x");
}

TEST(SdNotify, SendsToAnAbstractSocket) {
  const std::string name = "@brook-notify-test-" + std::to_string(::getpid());
  NotifySocket sock(name);
  EXPECT_TRUE(detail::sd_notify_to(name, "STOPPING=1"));
  EXPECT_EQ(sock.receive(), "STOPPING=1");
}

TEST(SdNotify, ReadsNotifySocketFromTheEnvironment) {
  NotifySocket sock(temp_name("notify-env"));
  ::unsetenv(kNotifySocketEnv);
  EXPECT_FALSE(sd_notify("WATCHDOG=1"));
  ::setenv(kNotifySocketEnv, temp_name("notify-env").c_str(), 1);
  EXPECT_TRUE(sd_notify("WATCHDOG=1"));
  ::unsetenv(kNotifySocketEnv);
  EXPECT_EQ(sock.receive(), "WATCHDOG=1");
}

TEST(SdNotify, RefusesWhatIsNotASocketName) {
  EXPECT_FALSE(detail::sd_notify_to("", "READY=1"));
  EXPECT_FALSE(detail::sd_notify_to("relative/path", "READY=1"));
  EXPECT_FALSE(detail::sd_notify_to(temp_name("nobody-listens"), "READY=1"));
  EXPECT_FALSE(detail::sd_notify_to("/" + std::string(200, 'x'), "READY=1"));
}

TEST(SdNotify, WatchdogIntervalHonoursWatchdogPid) {
  ::setenv(kWatchdogUsecEnv, "3000000", 1);
  ::unsetenv(kWatchdogPidEnv);
  EXPECT_EQ(sd_watchdog_interval(), std::chrono::microseconds(3'000'000));
  ::setenv(kWatchdogPidEnv, std::to_string(::getpid()).c_str(), 1);
  EXPECT_EQ(sd_watchdog_interval(), std::chrono::microseconds(3'000'000));
  ::setenv(kWatchdogPidEnv, std::to_string(::getpid() + 1).c_str(), 1);
  EXPECT_EQ(sd_watchdog_interval(), std::nullopt);  // meant for another process
  ::setenv(kWatchdogUsecEnv, "soon", 1);
  ::unsetenv(kWatchdogPidEnv);
  EXPECT_EQ(sd_watchdog_interval(), std::nullopt);
  ::unsetenv(kWatchdogUsecEnv);
  EXPECT_EQ(sd_watchdog_interval(), std::nullopt);
}

TEST(Liveness, PetsTheWatchdogAtHalfItsIntervalAndWritesTheHealthFile) {
  NotifySocket sock(temp_name("watchdog"));
  const fs::path health = temp_name("health");
  ::setenv(kNotifySocketEnv, temp_name("watchdog").c_str(), 1);
  ::setenv(kWatchdogUsecEnv, "400000", 1);  // 400 ms: every 200 ms, not every heartbeat (1 s)
  ::setenv(kHealthFileEnv, health.c_str(), 1);
  Liveness l(std::chrono::milliseconds(1000));
  ::unsetenv(kNotifySocketEnv);
  ::unsetenv(kWatchdogUsecEnv);
  ::unsetenv(kHealthFileEnv);
  ASSERT_TRUE(l.active());
  const auto t0 = l.next_wakeup();
  l.tick(t0, "starting");
  ::setenv(kNotifySocketEnv, temp_name("watchdog").c_str(), 1);
  l.tick(t0, "starting");  // not due again yet: nothing sent
  ::unsetenv(kNotifySocketEnv);
  EXPECT_EQ(l.next_wakeup() - t0, std::chrono::milliseconds(200));
  std::string state;
  long long at = 0;
  std::ifstream(health) >> state >> at;
  EXPECT_EQ(state, "starting");
  EXPECT_NEAR(static_cast<double>(at), static_cast<double>(std::time(nullptr)), 2.0);
  fs::remove(health);
  EXPECT_TRUE(sock.empty());  // NOTIFY_SOCKET was unset at the first tick
}

TEST(Liveness, InactiveWithoutWatchdogOrHealthFile) {
  ::unsetenv(kWatchdogUsecEnv);
  ::unsetenv(kHealthFileEnv);
  const Liveness l(std::chrono::milliseconds(1000));
  EXPECT_FALSE(l.active());
  EXPECT_EQ(l.next_wakeup(), Liveness::Clock::time_point::max());
}

TEST(Liveness, HealthFileIsReplacedWhole) {
  const fs::path health = temp_name("health-replace");
  ASSERT_TRUE(write_health_file(health, "ready"));
  ASSERT_TRUE(write_health_file(health, "stopping"));
  std::ifstream in(health);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(all.rfind("stopping ", 0), 0u) << all;
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 1);
  EXPECT_FALSE(fs::exists(health.string() + ".tmp"));
  fs::remove(health);
  EXPECT_FALSE(write_health_file("/nonexistent-dir/health", "ready"));
}

TEST(SdNotify, NotifyReadySendsReadyAndStatusOnce) {
  NotifySocket sock(temp_name("ready"));
  ::setenv(kNotifySocketEnv, temp_name("ready").c_str(), 1);
  notify_ready("in=tcp://127.0.0.1:1");
  notify_ready("again");
  notify_stopping("SIGTERM");
  ::unsetenv(kNotifySocketEnv);
  EXPECT_EQ(sock.receive(), "READY=1\nSTATUS=ready in=tcp://127.0.0.1:1");
  EXPECT_EQ(sock.receive(), "STOPPING=1\nSTATUS=stopping (SIGTERM)");
  EXPECT_TRUE(sock.empty());
}

}  // namespace
}  // namespace brook
