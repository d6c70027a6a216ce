// brook-amqp-out: a brook channel into a RabbitMQ exchange (amqp_out_node.hpp, docs/amqp.md).
#include <brook/node.hpp>

#include "amqp_out_node.hpp"

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  brook::amqp::AmqpOut bridge(node);
  return node.run();
}
