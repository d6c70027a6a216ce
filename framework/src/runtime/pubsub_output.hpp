// The output port of a pubsub channel: one Publisher (XPUB, every subscriber gets every
// message). Held until every declared subscribing node has a welcomed instance, or the ready
// timeout opens it.
#pragma once

#include <set>

#include "runtime/output_port.hpp"
#include "runtime/publisher.hpp"

namespace brook::detail {

class PubsubOutput final : public OutputPort {
 public:
  PubsubOutput(Reactor& reactor, zmq::context_t& context, const PortSpec& port,
               const ChannelSpec& channel, const Topology& topology, std::string producer_id,
               std::chrono::milliseconds linger, ChannelCounters& counters,
               const Security& security);

  void make_room(const WaitFn& wait) override;
  std::size_t deliver(zmq::message_t& msg, std::uint64_t seq, std::uint64_t key_hash,
                      bool journaled, std::uint64_t tag) override;
  void consumer_added(const DirectoryEntry& e) override;
  void consumer_removed(const DirectoryEntry& e) override { publisher_.remove_subscriber(e); }
  void flush() override;
  bool has_pending() const override { return publisher_.has_work(); }
  bool ready() const override;
  std::string readiness() const override;
  void open() override { publisher_.open(); }

 private:
  std::set<std::string> declared_;  // subscribing nodes named by the topology
  Publisher publisher_;
  TapRefuser tap_refuser_;
  Clock::time_point next_flush_{};
};

}  // namespace brook::detail
