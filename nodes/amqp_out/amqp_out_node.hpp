// brook-amqp-out: publishes each message of input port "in" (an at-least-once channel) to an
// AMQP exchange with publisher confirms, and acknowledges it to its brook producer only once the
// broker confirmed it: the handler holds the message (Node::hold) and the confirm, read from the
// watched AMQP socket, releases the hold. A broker nack, an unroutable return or a lost
// connection gives the message back, so its producer re-sends it. docs/amqp.md.
#pragma once

#include <brook/node.hpp>
#include <map>
#include <set>

#include "amqp_connection.hpp"

namespace brook::amqp {

class AmqpOut {
 public:
  explicit AmqpOut(Node& node);
  ~AmqpOut();

 private:
  struct Unconfirmed {
    Hold hold;
    std::string message_id;
  };

  void connect();
  void fail(const std::string& what);
  void publish(const Message& m);
  // Reads what the broker sent (confirms, returns, a close); `wait` bounds a blocking wait for
  // the first frame. False when the connection failed (already handled).
  bool read(std::chrono::milliseconds wait);
  bool handle(const amqp_frame_t& f);
  void settle(std::uint64_t tag, bool multiple, bool ok);

  Node& node_;
  Settings settings_;
  Backoff backoff_;
  Connection conn_;
  std::optional<WatchId> watch_;
  bool connecting_ = false;
  std::uint64_t next_tag_ = 1;  // publisher confirm tags count from 1 per channel
  std::map<std::uint64_t, Unconfirmed> unconfirmed_;
  std::set<std::string> returned_;  // message ids the broker returned as unroutable
  LogRateLimiter unroutable_log_{std::chrono::seconds(5)};
  Counter published_;
  Counter confirmed_;
  Counter given_back_;
  Counter reconnects_;
};

}  // namespace brook::amqp
