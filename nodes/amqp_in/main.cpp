// brook-amqp-in: a RabbitMQ queue into a brook channel (amqp_in_node.hpp, docs/amqp.md).
#include <brook/node.hpp>

#include "amqp_in_node.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  brook::amqp::AmqpIn bridge(node);
  return node.run();
}
