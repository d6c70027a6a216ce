// A synchronous client for the directory, for tools (the brook CLI) and tests. Nodes do not use
// it: their runtime talks to the directory asynchronously from the event loop.
//
// Given several endpoints (redundant directories, docs/directory.md#several-directories) it asks
// them in order and takes the first answer, starting with the one that answered last: a dead
// directory costs its timeout once, not on every call while another answers.
//
// Not thread-safe; each call blocks for at most the timeout times the number of endpoints.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>
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
  // Several endpoints (at least one); `timeout` is per endpoint tried.
  DirectoryClient(std::vector<std::string> endpoints, std::chrono::milliseconds timeout,
                  Security security = {});
  ~DirectoryClient();
  DirectoryClient(const DirectoryClient&) = delete;
  DirectoryClient& operator=(const DirectoryClient&) = delete;

  // Each throws brook::Error naming the endpoint when the directory does not answer within the
  // timeout (naming every endpoint when none does) or answers with an error.
  HelloReply hello();
  ListReply list();
  EntriesReply snapshot(const std::string& topology = {});
  // The entries of `channel` in the scope of `topology`; without one, in every scope (from a
  // list: each entry names its topology).
  EntriesReply resolve(const std::string& channel,
                       const std::optional<std::string>& topology = std::nullopt);
  // Any request; returns the reply body (an ErrorReply is returned, not thrown).
  DirectoryReplyBody request(DirectoryRequestBody body);

  // The endpoint that answered last (the first one before any answer).
  const std::string& endpoint() const noexcept { return endpoints_[current_]; }
  const std::vector<std::string>& endpoints() const noexcept { return endpoints_; }

 private:
  void reconnect();
  // One attempt at the current endpoint; nullopt (after reconnecting) when it did not answer
  // or answered garbage, `why` saying which.
  std::optional<DirectoryReplyBody> ask(const std::string& bytes, std::uint64_t id,
                                        std::string& why);

  std::vector<std::string> endpoints_;
  std::size_t current_ = 0;
  std::chrono::milliseconds timeout_;
  Security security_;
  zmq::context_t context_{1};
  std::unique_ptr<zmq::socket_t> socket_;
  std::uint64_t next_id_ = 1;
};

}  // namespace brook
