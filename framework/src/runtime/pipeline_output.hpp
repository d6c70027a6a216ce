// The output port of a pipeline channel: a sender per consuming node (each node gets every
// message; its replicas share them), created for the nodes the topology declares and for taps
// as they register. A durable port journals each message before any consumer can see it and
// re-sends what the journal holds at start (docs/reliability.md).
#pragma once

#include <map>
#include <set>
#include <vector>

#include "runtime/group_sender.hpp"
#include "runtime/output_port.hpp"

namespace brook::detail {

class PipelineOutput final : public OutputPort {
 public:
  // `journal`: a durable output's (null otherwise). Its unacknowledged messages are queued for
  // the consumers at once, sequence numbers continue after it, and `producer_id` must be the
  // same for every incarnation using it (consumers de-duplicate by producer and number).
  // `acked`: called for each message a consumer group acknowledged, with the tag it was
  // delivered with.
  PipelineOutput(Reactor& reactor, zmq::context_t& context, const PortSpec& port,
                 const ChannelSpec& channel, const Topology& topology, std::string producer_id,
                 std::chrono::milliseconds linger, ChannelCounters& counters,
                 const Security& security, std::unique_ptr<OutputJournal> journal, AckedFn acked);

  bool durable() const noexcept override { return journal_ != nullptr; }
  OutputJournal* journal() noexcept override { return journal_.get(); }
  void make_room(const WaitFn& wait) override;
  bool acknowledged() const noexcept override { return channel_->reliable(); }
  std::size_t deliver(zmq::message_t& msg, std::uint64_t seq, std::uint64_t key_hash,
                      bool journaled, std::uint64_t tag) override;
  void consumer_added(const DirectoryEntry& e) override;
  void consumer_removed(const DirectoryEntry& e) override;
  void flush() override;
  bool has_pending() const override;
  Clock::time_point oldest_unacked_since() const noexcept override;
  bool ready() const override;
  std::string readiness() const override;

 private:
  GroupSender& add_group(const std::string& key, const std::string& node, bool tap);
  // Closes a tap's group (its last replica left): its sockets and what it held.
  void remove_group(const std::string& key);
  void list_senders();
  std::size_t taps() const;
  void make_room(GroupSender& g, const WaitFn& wait);
  void socket_ready(GroupSender& g);
  Clock::time_point next_wakeup() const;
  void tick(Clock::time_point now);
  void update_gauges();
  void replay_journal();
  // Tells the journal what every consuming node acknowledged.
  void journal_low_water();

  zmq::context_t& context_;
  std::chrono::milliseconds linger_;
  const Security& security_;
  std::set<std::string> declared_;  // consuming nodes named by the topology
  std::set<std::string> warned_;    // undeclared consumers already warned about
  std::map<std::string, std::unique_ptr<GroupSender>> groups_;  // by node ("~tap/..." for taps)
  // groups_'s senders in its order, for what runs per message (make_room, deliver, the gauges):
  // a vector walk instead of a tree walk, three times per emit.
  std::vector<GroupSender*> senders_;
  std::uint64_t senders_listed_ = 0;  // how often senders_ was made
  // Of each group's monitor and socket, by the same key.
  std::map<std::string, std::pair<Reactor::ReaderId, Reactor::ReaderId>> readers_of_;
  std::unique_ptr<OutputJournal> journal_;
  GroupSender::AckedFn acked_;
  TapRefuser tap_refuser_;
};

}  // namespace brook::detail
