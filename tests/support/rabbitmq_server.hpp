// Test support: a private rabbitmq-server on loopback (tests/support/rabbitmq.sh): its own node
// name, ports and data dir under a temporary directory; stopped when the object goes, also when
// the test failed. kill() crashes it (SIGKILL) and start() brings it back with its queues.
#pragma once

#include <filesystem>
#include <string>

#include "support/process.hpp"

namespace brook::test {

class RabbitMq {
 public:
  // Whether Debian's rabbitmq-server is installed (tests skip otherwise).
  static bool installed();

  RabbitMq();  // starts it; throws with the script's output if it does not come up
  ~RabbitMq();
  RabbitMq(const RabbitMq&) = delete;
  RabbitMq& operator=(const RabbitMq&) = delete;

  int port() const noexcept { return port_; }
  std::string url() const { return "amqp://guest:guest@127.0.0.1:" + std::to_string(port_) + "/"; }
  void start();
  void kill();

 private:
  void script(const std::string& command);

  TempDir dir_;
  int port_;
};

}  // namespace brook::test
