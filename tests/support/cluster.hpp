// Test support: a directory plus node processes described by a topology file written into a
// temporary directory, and helpers to read what the nodes report.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "directory/directory_client.hpp"
#include "support/process.hpp"

namespace brook::test {

// One line of a brook-test-sink report.
struct Received {
  std::string source;
  std::uint64_t n = 0;
  std::uint64_t seq = 0;
  std::string key;
};

struct SinkReport {
  bool complete = false;  // the END line was present
  std::vector<Received> messages;
};

SinkReport read_report(const std::filesystem::path& file);

class Cluster {
 public:
  Cluster();

  TempDir& dir() noexcept { return dir_; }
  // Starts brook-directory (ephemeral port unless `bind` names one) and waits until ready.
  Process& start_directory(const std::string& bind = "tcp://127.0.0.1:*",
                           std::vector<std::string> extra = {});
  const std::string& directory_endpoint() const noexcept { return directory_endpoint_; }
  Process& directory() { return directory_; }

  // Writes the topology (into `file` of the temp dir) and makes it the one start_node() uses;
  // "{DIRECTORY}" and "{DIR}" in the text are replaced by the directory endpoint and the temp
  // dir path.
  std::filesystem::path write_topology(const std::string& yaml,
                                       const std::string& file = "topology.yaml");
  const std::filesystem::path& topology() const noexcept { return topology_; }

  // Starts `exe` as node.instance of the topology (waits for READY unless told not to).
  Process start_node(const std::string& exe, const std::string& node, std::uint32_t instance = 0,
                     std::vector<std::string> extra = {}, bool wait_ready = true);

  // SIGKILLs `victim` (node.0 run as `exe`) `kills` times, the k-th once `progress()` reached
  // k / (kills + 1) of `total`, and starts it again in its place each time; `restarted` sees each
  // new incarnation. A stage that does not get there in 30 s fails the test.
  void kill_repeatedly(Process& victim, const std::string& exe, const std::string& node, int kills,
                       std::uint64_t total, const std::function<std::uint64_t()>& progress,
                       const std::function<void(Process&)>& restarted = {});

  DirectoryClient& client();
  // The security client() talks with (set before its first use; default: none).
  void set_client_security(Security s) {
    client_security_ = std::move(s);
    client_.reset();
  }
  // Sum over instances of `node` of one counter on `channel`, from the last heartbeats.
  std::uint64_t counter(const std::string& node, const std::string& channel,
                        std::uint64_t ChannelCounters::*field);
  std::set<std::string> live_instances();  // "node.instance" names the directory lists

 private:
  TempDir dir_;
  Process directory_;
  std::string directory_endpoint_;
  std::filesystem::path topology_;
  std::unique_ptr<DirectoryClient> client_;
  Security client_security_;
  int log_counter_ = 0;
};

}  // namespace brook::test
