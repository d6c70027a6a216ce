// The producing side of a pubsub channel: an XPUB socket connected to every subscriber
// instance's SUB endpoint. XPUB_NODROP makes a full subscriber pipe visible (EAGAIN) instead of
// a silent drop, so the message waits in the bounded pending queue and every drop is counted.
//
// Subscribers announce themselves by subscribing to their hello topic; the publisher answers
// with a welcome carrying its next sequence number, which is how both sides know a subscriber
// will see every message from then on (docs/wire.md). A hello id is forgotten when its
// subscription ends (the subscriber left); at most 4096 are remembered (kMaxWelcomed).
#pragma once

#include <brook/log.hpp>
#include <brook/topology.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "directory/directory_protocol.hpp"
#include "runtime/group_sender.hpp"
#include "security/security.hpp"
#include "util/ring_queue.hpp"

namespace brook::detail {

class Publisher {
 public:
  // `security` must outlive the publisher: each subscriber is connected to as a CURVE server
  // holding its node's key.
  Publisher(zmq::context_t& context, const ChannelSpec& channel, std::string producer_id,
            std::chrono::milliseconds linger, const Security& security);

  void add_subscriber(const DirectoryEntry& e);
  void remove_subscriber(const DirectoryEntry& e);

  // Topic frame + envelope frame; same contract as GroupSender::offer. `seq` is the
  // envelope's sequence number (welcomes report the oldest one not yet published).
  [[nodiscard]] Offer offer(std::uint64_t seq, zmq::message_t& envelope, bool force = false);
  std::size_t flush();
  std::size_t pending() const noexcept { return pending_.size(); }
  bool has_work() const noexcept { return !pending_.empty() || !welcomes_.empty(); }

  // Holds messages until opened (every declared subscribing node has a welcomed instance, or the
  // ready timeout passed) so the first messages are not published to nobody.
  void open() noexcept { open_ = true; }
  bool is_open() const noexcept { return open_; }

  // Reads subscription messages; queues welcomes for new subscribers. `next_seq` is the
  // sequence number the next published message will carry.
  void on_readable(std::uint64_t next_seq);
  zmq::socket_t& socket() noexcept { return xpub_; }

  std::size_t known_subscribers() const noexcept { return subscribers_.size(); }
  std::size_t taps() const noexcept { return taps_; }
  bool knows(const DirectoryEntry& e) const { return subscribers_.count(e.reg.endpoint) > 0; }
  // Instances (producer ids) that completed the hello/welcome exchange.
  const std::set<std::string>& welcomed() const noexcept { return welcomed_; }
  bool node_welcomed(const std::string& node) const;
  bool all_welcomed() const;

  // Observers (brook tap) get copies on a separate lossy PUB so they can never slow the channel.
  void send_to_taps(const zmq::message_t& envelope);

 private:
  bool send_pair(const std::string& topic, zmq::message_t& body);
  void send_welcomes();
  // Whether a hello from `subscriber` may be welcomed and remembered (bounded: kMaxWelcomed).
  bool room_for_welcome(const std::string& subscriber);

  // Hello ids remembered, and welcomes queued, beyond which only listed subscribers get one.
  static constexpr std::size_t kMaxWelcomed = 4096;

  std::string channel_;
  std::string producer_id_;
  std::size_t max_pending_;
  bool open_ = false;
  const Security* security_;
  zmq::socket_t xpub_;
  zmq::socket_t tap_pub_;
  std::size_t taps_ = 0;
  std::map<std::string, std::string> subscribers_;  // endpoint -> subscriber producer id
  std::set<std::string> welcomed_;
  RingQueue<std::pair<std::uint64_t, zmq::message_t>> pending_;
  std::vector<std::pair<std::string, std::string>> welcomes_;  // (topic, body) not yet sent
  LogRateLimiter refused_hello_log_;
};

}  // namespace brook::detail
