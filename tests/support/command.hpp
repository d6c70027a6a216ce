// Test support: run a command to completion (the `brook` CLI), capturing stdout and stderr apart.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace brook::test {

struct CommandResult {
  int code = -1;  // exit code, 128+signal when killed, -1 when it timed out (then killed)
  std::string out;
  std::string err;
  std::string describe() const;  // for failure messages
};

// Runs argv[0] (a path) with the extra environment, kills it after `timeout`.
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60),
                          const std::map<std::string, std::string>& env = {},
                          const std::string& stdin_text = "");

// A TCP port on 127.0.0.1 that was free a moment ago (for a process that must bind a fixed one).
int free_port();

// A plain TCP connection to "tcp://127.0.0.1:PORT", for the caller to hold and close; -1 if
// refused.
int connect_tcp(const std::string& endpoint);

}  // namespace brook::test
