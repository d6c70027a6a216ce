// brook-example-printer: prints every message on port "in" as one line, whatever its type (the
// untyped handler gives the envelope and the payload as a msgpack object). The smallest consumer;
// see topologies/minimal.yaml.
#include <brook/node.hpp>
#include <iostream>

int main(int argc, char** argv) {
  brook::Node node(argc, argv);
  node.on("in", [&](const brook::Message& m) {
    std::cout << node.instance_name() << " got " << m.type() << " " << m.payload() << " from "
              << m.id().producer << " #" << m.id().seq << std::endl;
  });
  return node.run();
}
