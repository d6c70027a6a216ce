// A synchronous client for the directory, for tools (the brook CLI) and tests. Nodes do not use
// it: their runtime talks to the directory asynchronously from the event loop.
//
// Not thread-safe; each call blocks for at most the timeout.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "directory/directory_protocol.hpp"
#include "security/security.hpp"

namespace brook {

class DirectoryClient {
 public:
  // With a CURVE `security`, connects as its identity to a directory holding the "directory"
  // key (a directory that refuses the key never answers: the calls time out).
  explicit DirectoryClient(std::string endpoint,
                           std::chrono::milliseconds timeout = std::chrono::seconds(2),
                           Security security = {});
  ~DirectoryClient();
  DirectoryClient(const DirectoryClient&) = delete;
  DirectoryClient& operator=(const DirectoryClient&) = delete;

  // Each throws brook::Error naming the endpoint when the directory does not answer within the
  // timeout or answers with an error.
  HelloReply hello();
  ListReply list();
  EntriesReply snapshot(const std::string& topology = {});
  // The entries of `channel` in the scope of `topology`; without one, in every scope (from a
  // list: each entry names its topology).
  EntriesReply resolve(const std::string& channel,
                       const std::optional<std::string>& topology = std::nullopt);
  // Any request; returns the reply body (an ErrorReply is returned, not thrown).
  DirectoryReplyBody request(DirectoryRequestBody body);

  const std::string& endpoint() const noexcept { return endpoint_; }

 private:
  void reconnect();

  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  Security security_;
  zmq::context_t context_{1};
  std::unique_ptr<zmq::socket_t> socket_;
  std::uint64_t next_id_ = 1;
};

}  // namespace brook
