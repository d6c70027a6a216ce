// A best-effort consuming node: one PUSH socket connected to its live replicas; ZeroMQ shares
// the work among them. What no replica can take waits in a bounded queue (max_pending) and is
// sent when the socket reports room.
#pragma once

#include "runtime/group_sender.hpp"
#include "util/ring_queue.hpp"

namespace brook::detail {

class BestEffortSender final : public GroupSender {
 public:
  BestEffortSender(zmq::context_t& context, const ChannelSpec& channel, std::string node, bool tap,
                   std::chrono::milliseconds linger, ChannelCounters& counters,
                   const Security& security);

  bool acknowledges() const noexcept override { return false; }
  [[nodiscard]] Offer offer(zmq::message_t& msg, std::uint64_t seq, std::uint64_t key_hash = 0,
                            bool force = false, std::uint64_t tag = 0) override;
  std::size_t flush() override;
  std::size_t pending() const noexcept override { return pending_.size(); }
  short interest() const noexcept override { return pending_.empty() ? 0 : ZMQ_POLLOUT; }
  std::size_t on_socket_ready(const AckedFn& acked) override;

 private:
  // A send found no replica with room. Until the socket reports room again (on_socket_ready,
  // which the loop calls on ZMQ_POLLOUT while anything waits), flush() tries only once in
  // kTryWhileFullEvery calls: while a fast producer's queue stays full, every emit() would
  // otherwise pay a refused send; and a long handler that keeps emitting, which does not let
  // the loop run, still sends within that many emits once there is room.
  static constexpr unsigned kTryWhileFullEvery = 64;

  RingQueue<zmq::message_t> pending_;
  bool full_ = false;
  unsigned skipped_while_full_ = 0;
};

}  // namespace brook::detail
