#include "support/rabbitmq_server.hpp"

#include <unistd.h>

#include <stdexcept>

#include "support/command.hpp"

namespace brook::test {

using namespace std::chrono_literals;

bool RabbitMq::installed() {
  return ::access("/usr/lib/rabbitmq/bin/rabbitmq-server", X_OK) == 0;
}

RabbitMq::RabbitMq() : port_(free_port()) {
  start();
}

RabbitMq::~RabbitMq() {
  try {
    script("stop");
  } catch (const std::exception&) {
    // Already reported by whoever failed; nothing more to do in a destructor.
  }
}

void RabbitMq::script(const std::string& command) {
  std::vector<std::string> argv{"/bin/bash", source_path("tests/support/rabbitmq.sh"), command,
                                (dir_.path() / "rabbitmq").string()};
  if (command == "start") argv.push_back(std::to_string(port_));
  const CommandResult r = run_command(argv, 90s);
  if (r.code != 0) {
    throw std::runtime_error("tests/support/rabbitmq.sh " + command + " failed: " + r.describe());
  }
}

void RabbitMq::start() {
  script("start");
}
void RabbitMq::kill() {
  script("kill");
}

}  // namespace brook::test
