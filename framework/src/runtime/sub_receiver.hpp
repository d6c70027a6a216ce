// A pubsub input: a SUB socket subscribed to the channel's topic and to this instance's hello
// topic. Publishers answer the hello subscription with a welcome naming the first sequence
// number this instance will see from them (docs/wire.md), so a message missing after that is a
// counted gap, and readiness can wait until every listed publisher welcomed it.
//
// Bounds: 4096 publishers remembered for gap counting; welcomes from the publishers the
// directory lists, plus at most 256 from others (anyone reaching the input can send one).
#pragma once

#include <deque>
#include <map>
#include <set>

#include "runtime/receiver.hpp"
#include "wire/control_frames.hpp"

namespace brook::detail {

class SubReceiver final : public Receiver {
 public:
  SubReceiver(zmq::context_t& context, const PortSpec& port, const ChannelSpec& channel,
              const ListenAddress& listen, const std::string& own_id, bool tap,
              std::chrono::milliseconds linger, ChannelCounters& counters,
              const Security& security);

  Received receive(zmq::message_t& body, std::string& peer, std::string& why) override;
  // Counts the messages a publisher skipped since the last one seen (not for a tap, which reads
  // a lossy copy).
  bool admit(const EnvelopeView& env, const std::string& peer,
             const zmq::message_t& frame) override;

  void publisher_added(const DirectoryEntry& e) override;
  void publisher_removed(const DirectoryEntry& e) override;
  std::string waiting_for() const override;

 private:
  std::uint64_t skipped(const MessageId& id);
  void remember_welcome(const Welcome& welcome);

  std::string hello_;
  std::map<std::string, std::uint64_t, std::less<>> last_published_;  // by producer id
  std::set<std::string> publishers_;               // producer ids listed by the directory
  std::map<std::string, std::uint64_t> welcomed_;  // producer id -> first seq we will see
  std::deque<std::string> unlisted_welcomes_;      // welcomed_ keys not listed, oldest first
  LogRateLimiter forgotten_log_;
};

}  // namespace brook::detail
