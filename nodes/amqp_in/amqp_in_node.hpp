// brook-amqp-in: consumes an AMQP queue and emits each delivery on output port "out"; the
// delivery is acknowledged to the broker only once every consuming node acknowledged what it
// became (EmitOptions::on_acknowledged). basic.qos (param prefetch) bounds what is in flight; a
// full output (BackpressureError) keeps the delivery and stops reading the socket until there is
// room. A lost connection is retried with bounded exponential backoff; its unacknowledged
// deliveries go back to the queue (at-least-once), and a redelivery of a message_id it emitted
// recently is acknowledged instead of emitted again (param dedupe, amqp_dedupe.hpp). docs/amqp.md.
#pragma once

#include <brook/node.hpp>
#include <deque>

#include "amqp_connection.hpp"
#include "amqp_dedupe.hpp"

namespace brook::amqp {

class AmqpIn {
 public:
  explicit AmqpIn(Node& node);
  ~AmqpIn();

 private:
  struct Delivery {
    std::uint64_t tag;
    std::string message_id;
    Incoming message;
  };

  void connect();
  void fail(const std::string& what);
  void drop();
  void read();
  // Emits what waits; false when the output is full (backlog kept, reading paused).
  bool flush();
  void pause();
  void resume(std::uint64_t generation);
  // Acks a delivery of the current connection (a tag of an older one means nothing now).
  void ack(DeliveryTag tag);

  Node& node_;
  Settings settings_;
  Backoff backoff_;
  Connection conn_;
  std::optional<WatchId> watch_;
  std::uint64_t generation_ = 0;  // of the connection; receipts of older ones do nothing
  std::deque<Delivery> backlog_;  // read, not yet emitted (bounded by prefetch)
  bool paused_ = false;
  Dedupe dedupe_;
  Counter received_;
  Counter acked_;
  Counter reconnects_;
  Counter backpressure_;
  Counter duplicates_;
};

}  // namespace brook::amqp
