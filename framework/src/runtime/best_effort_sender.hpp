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
                            bool force = false) override;
  std::size_t flush() override;
  std::size_t pending() const noexcept override { return pending_.size(); }
  short interest() const noexcept override { return pending_.empty() ? 0 : ZMQ_POLLOUT; }
  std::size_t on_socket_ready(const AckedFn& acked) override;

 private:
  RingQueue<zmq::message_t> pending_;
  // A send found no replica with room. Until the socket reports room again (on_socket_ready,
  // which the loop calls on ZMQ_POLLOUT while anything waits), flush() does not try: while a
  // fast producer's queue stays full, every emit() would otherwise pay a refused send.
  bool full_ = false;
};

}  // namespace brook::detail
