// One AMQP 0-9-1 connection with one channel (librabbitmq), for the bridge nodes: open, declare,
// the socket to watch, and the conversions between librabbitmq's properties and Properties.
// Blocking calls (connect, login, declarations) are bounded by the timeout given to open();
// everything after that is non-blocking reads driven by the node's watch() on fd().
#pragma once

#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/tcp_socket.h>
#else  // rabbitmq-c before 0.12 (Debian 12 ships 0.11)
#include <amqp.h>
#include <amqp_tcp_socket.h>
#endif

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "amqp_bridge_logic.hpp"

namespace brook::amqp {

inline constexpr amqp_channel_t kChannel = 1;

// A failed AMQP operation: what was tried and why, for the reconnect log line.
class AmqpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Connection {
 public:
  Connection() = default;
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects, logs in, opens the channel. Throws AmqpError.
  void open(const Url& url, std::chrono::milliseconds timeout);
  // Declares what the settings ask for: the exchange (exchange_type), the queue and its binding
  // (with `routing_key` or "#"). Throws AmqpError.
  void declare(const Settings& s);
  void confirm_select();
  void qos(std::uint16_t prefetch);
  void consume(const std::string& queue);
  // Drops the connection without a handshake (the broker requeues what it delivered unacked).
  void close() noexcept;

  bool is_open() const noexcept { return state_ != nullptr; }
  int fd() const noexcept;
  amqp_connection_state_t state() const noexcept { return state_; }

  // Throws AmqpError for a reply that is not normal.
  static void check(amqp_rpc_reply_t r, const char* what);

 private:
  amqp_connection_state_t state_ = nullptr;
};

// librabbitmq's delivered properties as Properties (string-valued headers only).
Properties properties_of(const amqp_basic_properties_t& p);

// Properties as librabbitmq's, viewing `props` (keep it alive while the result is used).
class AmqpProperties {
 public:
  explicit AmqpProperties(const Properties& props);
  const amqp_basic_properties_t* get() const noexcept { return &p_; }

 private:
  amqp_basic_properties_t p_{};
  std::vector<amqp_table_entry_t> entries_;
};

inline amqp_bytes_t bytes_of(const std::string& s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}
inline std::string string_of(const amqp_bytes_t& b) {
  return std::string(static_cast<const char*>(b.bytes), b.len);
}

}  // namespace brook::amqp
