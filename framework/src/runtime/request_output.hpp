// A node's output port on a request channel: a RequestClient per serving node the topology
// declares, served by the reactor (replies and deadlines are kData: they run callbacks; the
// monitors are control work). A request goes to the serving node with a connected replica and
// the fewest outstanding requests.
#pragma once

#include <brook/counters.hpp>
#include <brook/topology.hpp>
#include <memory>
#include <string>
#include <vector>

#include "runtime/reactor.hpp"
#include "runtime/request_client.hpp"

namespace brook::detail {

class RequestOutput {
 public:
  using Clock = std::chrono::steady_clock;

  // `reactor`, `context`, `counters` (the channel's) and `security` must outlive it.
  RequestOutput(Reactor& reactor, zmq::context_t& context, const PortSpec& port,
                const ChannelSpec& channel, const Topology& topology, std::string producer_id,
                std::chrono::milliseconds linger, ChannelCounters& counters,
                const Security& security);
  ~RequestOutput();
  RequestOutput(const RequestOutput&) = delete;
  RequestOutput& operator=(const RequestOutput&) = delete;

  const std::string& port() const noexcept { return port_; }
  const ChannelSpec& channel() const noexcept { return *channel_; }
  const std::string& producer_id() const noexcept { return producer_id_; }
  Registration registration() const;
  std::uint64_t take_seq() noexcept { return next_seq_++; }

  // See RequestClient::send.
  void send(std::uint64_t seq, zmq::message_t frame, Clock::time_point deadline,
            RequestClient::DoneFn done);
  // Fails every outstanding request with `why` (the node stops) and runs the callbacks.
  void fail_all(const std::string& why);

  void consumer_added(const DirectoryEntry& e);
  void consumer_removed(const DirectoryEntry& e);
  // Every serving node has a connected replica; readiness() says which has none.
  bool ready() const;
  std::string readiness() const;

 private:
  std::string port_;
  const ChannelSpec* channel_;
  std::string producer_id_;
  Reactor& reactor_;
  std::vector<std::unique_ptr<RequestClient>> clients_;  // one per serving node
  std::vector<Reactor::ReaderId> readers_;
  std::vector<Reactor::SourceId> sources_;
  std::uint64_t next_seq_ = 1;
};

}  // namespace brook::detail
