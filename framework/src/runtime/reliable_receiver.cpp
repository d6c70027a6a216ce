#include "runtime/reliable_receiver.hpp"

#include <algorithm>
#include <cerrno>

#include "runtime/handling.hpp"
#include "wire/control_frames.hpp"

namespace brook::detail {

namespace {
constexpr std::size_t kMaxAcksPerFrame = 1024;
// Records (a producer id on one connection) remembered for de-duplication; each restart of a
// producer is a new id.
constexpr std::size_t kMaxClaimsRemembered = 4096;
// Connections recorded per producer id at a time: its own, and a few forgers' or half-open ones.
constexpr std::size_t kMaxClaimsPerProducer = 4;
// How long a second connection's envelopes for a producer id wait for the first one to close
// (a restart or reconnect) before it gets a record of its own; and how many such waits at once.
constexpr std::chrono::milliseconds kContestGrace{1000};
// A contested connection's envelopes are looked at every kHeldRetry while the loop runs; a gap
// longer than this means the process was stopped or stalled, and no probe could see the old
// connection close meanwhile: the grace starts again. (Counting the stop made a consumer
// SIGSTOPped for 2.4 s give a reconnected producer a fresh record and handle its re-sends again.)
constexpr std::chrono::milliseconds kContestStall{100};
constexpr std::size_t kMaxContested = 1024;
// How often held envelopes are tried again while their connection is contested.
constexpr std::chrono::milliseconds kHeldRetry{1};
constexpr std::size_t kMinHeld = 1024;
// A forger's connection is held for a second too: what it can make this process keep is bounded.
constexpr std::size_t kMaxHeldBytes = std::size_t{64} << 20;

const char* property(const zmq::message_t& frame, const char* name) {
  return zmq_msg_gets(const_cast<zmq_msg_t*>(frame.handle()), name);
}

// "node.instance@incarnation" -> "node".
std::string_view producer_node(std::string_view producer) {
  const std::string_view instance = producer.substr(0, producer.find('@'));
  const auto dot = instance.rfind('.');
  return dot == std::string_view::npos ? instance : instance.substr(0, dot);
}

// Whether the holder of the key named `user` may produce as `node`: its own node, or the tools'
// short-lived nodes for the cli key.
bool key_speaks_for(std::string_view user, std::string_view node) {
  return user == node || (user == kCliIdentity && is_tool_node(node));
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (const char c : bytes) {
    s += kDigits[(static_cast<unsigned char>(c) >> 4) & 15];
    s += kDigits[static_cast<unsigned char>(c) & 15];
  }
  return s;
}
}  // namespace

ReliableReceiver::ReliableReceiver(zmq::context_t& context, const PortSpec& port,
                                   const ChannelSpec& channel, const ListenAddress& listen,
                                   std::chrono::milliseconds linger, ChannelCounters& counters,
                                   const Security& security)
    : Receiver(context, zmq::socket_type::router, port, channel, listen, false, linger, counters,
               security),
      curve_(security.curve()),
      // An ack frame must fit the channel's max_message_size, which the producer's socket
      // enforces (a sequence number takes at most 9 bytes; 16 for the array and version).
      max_acks_per_frame_(
          std::clamp<std::size_t>((channel.max_message_size - 16) / 9, 1, kMaxAcksPerFrame)),
      max_held_(std::max(kMinHeld, 2 * channel.window)) {
  // A send to a connection that is gone fails (EHOSTUNREACH) instead of vanishing: that is how
  // a producer id's binding learns its connection left.
  socket_.set(zmq::sockopt::router_mandatory, 1);
  bind(listen);
}

Receiver::Received ReliableReceiver::receive(zmq::message_t& body, std::string& peer,
                                             std::string& why) {
  replaying_ = false;
  if (!held_.empty() && std::chrono::steady_clock::now() >= next_held_try_) {
    // Held envelopes go first, oldest first; admit() holds one again if still contested.
    Held& h = held_.front();
    peer = std::move(h.peer);
    body = std::move(h.frame);
    held_.pop_front();
    held_bytes_ -= body.size();
    if (auto it = held_by_.find(peer); it != held_by_.end() && --it->second == 0)
      held_by_.erase(it);
    replaying_ = true;
    return Received::kMessage;
  }
  // [producer routing id][envelope]; the id is where the acknowledgement goes.
  if (!socket_.recv(body, zmq::recv_flags::dontwait)) return Received::kNothing;
  // A burst comes from one connection: `peer` usually holds its id already (a compare is
  // cheaper than std::string's out-of-line assign).
  if (const std::string_view id(static_cast<const char*>(body.data()), body.size()); peer != id) {
    peer.assign(id);
  }
  if (!body.more()) {
    why = "expected a routing id and an envelope frame, got 1 frame";
    return Received::kMalformed;
  }
  (void)socket_.recv(body, zmq::recv_flags::none);
  if (!body.more()) {
    // A producer that first sends while this replica drains is told too.
    if (draining_ && drained_.size() < kMaxClaimsRemembered && drained_.insert(peer).second) {
      send_drain(peer);
    }
    return Received::kMessage;
  }
  why = "expected 2 frames (routing id, envelope), got " + std::to_string(drain_parts(body, 2));
  return Received::kMalformed;
}

bool ReliableReceiver::admit(const EnvelopeView& env, const std::string& peer,
                             const zmq::message_t& frame) {
  const bool replay = replaying_;
  replaying_ = false;
  if (!replay && !held_by_.empty() && held_by_.count(peer) > 0) {
    hold(env, peer, frame, false);  // behind its connection's earlier envelopes
    return false;
  }
  bool contested = false;
  const Claim* producer = claim(env, peer, frame, contested);
  if (producer == nullptr) {
    if (contested) hold(env, peer, frame, replay);
    return false;
  }
  if (!producer->handled.handled(env.id.seq)) return true;
  // A re-send of something already handled here (its ack was lost or late): ack it again,
  // unless its ack is waiting (for what it emitted, or for a retry).
  ++counters_.duplicates;
  if (!deferred(env.id)) queue_ack(peer, env.id.seq);
  return false;
}

void ReliableReceiver::hold(const EnvelopeView& env, const std::string& peer,
                            const zmq::message_t& frame, bool front) {
  if (held_.size() >= max_held_ || held_bytes_ + frame.size() > kMaxHeldBytes) {
    // Dropped unacknowledged: its producer re-sends it after ack_timeout (order may then suffer).
    std::uint64_t suppressed = 0;
    if (held_log_.allow(suppressed)) {
      BROOK_LOG(kWarn) << "holding " << held_.size() << " envelopes of contested connections on "
                       << "channel '" << channel_->name << "' (" << held_bytes_
                       << " bytes), the most it holds: dropping " << env.id.producer.substr(0, 255)
                       << "/" << env.id.seq << " unacknowledged (re-sent after ack_timeout)"
                       << (suppressed ? " (" + std::to_string(suppressed) + " not logged)" : "");
    }
    return;
  }
  Held h{peer, zmq::message_t()};
  h.frame.copy(const_cast<zmq::message_t&>(frame));  // shares the data, keeps the properties
  if (front || held_.empty()) next_held_try_ = std::chrono::steady_clock::now() + kHeldRetry;
  if (front) {
    held_.push_front(std::move(h));
  } else {
    held_.push_back(std::move(h));
  }
  held_bytes_ += frame.size();
  ++held_by_[peer];
}

ReliableReceiver::Claim* ReliableReceiver::claim(const EnvelopeView& env, const std::string& peer,
                                                 const zmq::message_t& frame, bool& contested) {
  if (curve_) {
    const char* user = property(frame, "User-Id");
    const std::string_view node = producer_node(env.id.producer);
    if (user == nullptr || !key_speaks_for(user, node)) {
      refuse(env, frame,
             "the connection holds the key of '" + std::string(user ? user : "") +
                 "', not of node '" + std::string(node) + "'");
      return nullptr;
    }
  }
  if (Claim* mine = find_claim(env.id.producer, peer)) return mine;
  Producer* known = last_producer_.find(producers_, env.id.producer);
  if (known == nullptr) return &add_claim(env.id.producer, peer);
  auto& claims = known->claims;
  // An envelope libzmq still queued from a connection that is gone meanwhile (its producer
  // reconnected; its new connection re-sends it): handling it now, or letting that connection
  // take the record over, would put it after newer ones of the new connection.
  if (!connected(peer)) return nullptr;
  // The producer reconnected, or restarted (a durable output keeps its id): its new connection
  // takes over the latest record whose connection is gone.
  Claim* gone = nullptr;
  for (Claim& c : claims) {
    if ((gone == nullptr || c.last_used > gone->last_used) && !connected(c.connection)) gone = &c;
  }
  if (gone != nullptr) {
    gone->connection = peer;
    gone->last_used = ++use_clock_;
    return gone;
  }
  // Every connection is open, as far as a probe can tell. Usually the producer restarted or
  // reconnected and its old connection is not closed yet (libzmq learns it a little later):
  // its envelopes are held (unacknowledged) so that it can take the old record over. A connection
  // still contested after kContestGrace is not that: a forger, or one that spoke first for the id;
  // it gets a record of its own, so neither can silence the other.
  const auto now = std::chrono::steady_clock::now();
  std::string key(env.id.producer);
  key += '\0';
  key += peer;
  auto [contest, fresh] = contested_.try_emplace(std::move(key), Contest{now, now});
  if (fresh && contested_.size() > kMaxContested) {
    contested_.erase(contested_.begin() == contest ? std::next(contest) : contested_.begin());
  }
  if (now - contest->second.seen > kContestStall) contest->second.since = now;
  contest->second.seen = now;
  if (now - contest->second.since < kContestGrace) {
    if (std::uint64_t suppressed = 0; contested_log_.allow(suppressed)) {
      const char* address = property(frame, "Peer-Address");
      BROOK_LOG(kInfo) << "producer '" << env.id.producer.substr(0, 255) << "' on channel '"
                       << channel_->name << "' speaks from a second connection ("
                       << (address ? address : "unknown peer")
                       << ") while the first is open: its envelopes are held for up to "
                       << kContestGrace.count() << " ms, until the first one closes"
                       << (suppressed ? " (" + std::to_string(suppressed) + " not logged)" : "");
    }
    contested = true;
    return nullptr;
  }
  contested_.erase(contest);
  if (claims.size() >= kMaxClaimsPerProducer) {
    // A busy producer's record is the most recently used: a forger must keep more connections
    // busier to push it out, and even then it only loses its de-duplication.
    Claim& lru =
        *std::min_element(claims.begin(), claims.end(),
                          [](const Claim& a, const Claim& b) { return a.last_used < b.last_used; });
    lru.connection = peer;
    lru.handled = fresh_window(env.id.producer);
    lru.last_used = ++use_clock_;
    return &lru;
  }
  return &add_claim(env.id.producer, peer);
}

ReliableReceiver::Claim* ReliableReceiver::find_claim(std::string_view producer,
                                                      const std::string& peer) {
  Producer* p = last_producer_.find(producers_, producer);
  if (p == nullptr) return nullptr;
  for (Claim& c : p->claims) {
    if (c.connection != peer) continue;
    c.last_used = ++use_clock_;
    return &c;
  }
  return nullptr;
}

void ReliableReceiver::refuse(const EnvelopeView& env, const zmq::message_t& frame,
                              const std::string& why) {
  ++counters_.forged;
  std::uint64_t suppressed = 0;
  if (!forged_log_.allow(suppressed)) return;
  const char* address = property(frame, "Peer-Address");
  BROOK_LOG(kWarn) << "dropping an envelope on port '" << port_ << "' (channel '" << channel_->name
                   << "') from " << (address ? address : "unknown peer") << " claiming producer '"
                   << env.id.producer.substr(0, 255) << "' seq " << env.id.seq << ": " << why
                   << " (" << counters_.forged << " forged so far"
                   << (suppressed ? ", " + std::to_string(suppressed) + " not logged" : "") << ")";
}

ReliableReceiver::Sent ReliableReceiver::send_frame(const std::string& routing_id,
                                                    const msgpack::sbuffer& frame) {
  try {
    if (!socket_.send(zmq::buffer(routing_id),
                      zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return Sent::kFull;
    }
  } catch (const zmq::error_t& e) {
    if (e.num() != EHOSTUNREACH) throw;
    return Sent::kGone;
  }
  // Once the routing id frame is accepted, the rest of the message is too.
  (void)socket_.send(zmq::buffer(frame.data(), frame.size()), zmq::send_flags::dontwait);
  return Sent::kSent;
}

bool ReliableReceiver::connected(const std::string& routing_id) {
  encode_ack({}, ack_buffer_);
  return send_frame(routing_id, ack_buffer_) != Sent::kGone;
}

ReliableReceiver::Claim& ReliableReceiver::add_claim(std::string_view producer,
                                                     const std::string& peer) {
  if (claims_ >= kMaxClaimsRemembered) {
    claims_ -= producers_.begin()->second.claims.size();
    producers_.erase(producers_.begin());
    last_producer_.forget();
  }
  Producer& p = last_producer_.find_or_add(producers_, producer, [] { return Producer{}; });
  ++claims_;
  return p.claims.emplace_back(Claim{peer, fresh_window(producer), ++use_clock_});
}

DedupeWindow ReliableReceiver::fresh_window(std::string_view producer) const {
  const auto it = seeds_.find(producer);
  return it != seeds_.end() ? it->second : DedupeWindow(dedupe_window_size(*channel_));
}

void ReliableReceiver::seed_handled(
    const std::map<std::string, std::vector<std::uint64_t>, std::less<>>& handled) {
  for (const auto& [producer, seqs] : handled) {
    if (seeds_.size() >= kMaxClaimsRemembered) break;
    DedupeWindow w(dedupe_window_size(*channel_));
    for (const std::uint64_t seq : seqs)
      (void)w.mark(seq);
    seeds_.insert_or_assign(producer, std::move(w));
  }
}

void ReliableReceiver::give_back(const MessageId& id, const std::string& peer) {
  undefer(id.producer, id.seq);
  if (Claim* c = find_claim(id.producer, peer)) c->handled.unmark(id.seq);
}

bool ReliableReceiver::deferred(const MessageId& id) {
  if (deferred_count_ == 0) return false;
  const SeqSet* s = last_deferred_.find(deferred_, id.producer);
  return s != nullptr && s->count(id.seq) > 0;
}

void ReliableReceiver::mark_handled(const MessageId& id, const std::string& peer) {
  Claim* c = find_claim(id.producer, peer);
  // None: an envelope acknowledged without being admitted (it named another channel), or a
  // record evicted meanwhile. Its acknowledgement is all it gets.
  if (c == nullptr || !c->handled.mark(id.seq)) return;
  std::uint64_t suppressed = 0;
  if (jump_log_.allow(suppressed)) {
    BROOK_LOG(kInfo) << "producer '" << id.producer << "' on channel '" << channel_->name
                     << "' jumped to seq " << id.seq << " (connection " << hex(peer)
                     << "), beyond the de-duplication window of " << dedupe_window_size(*channel_)
                     << ": the numbers it skipped are not assumed handled"
                     << (suppressed ? " (" + std::to_string(suppressed) + " not logged)" : "");
  }
}

void ReliableReceiver::undefer(std::string_view producer, std::uint64_t seq) {
  if (deferred_count_ == 0) return;
  SeqSet* s = last_deferred_.find(deferred_, producer);
  if (s == nullptr) return;
  deferred_count_ -= s->erase(seq);
  if (s->empty() && deferred_.size() > kKeptDeferredSets) {
    deferred_.erase(deferred_.find(producer));
    last_deferred_.forget();
  }
}

void ReliableReceiver::settle(const MessageId& id, const std::string& peer, Settle how) {
  mark_handled(id, peer);
  if (how == Settle::kDefer) {
    SeqSet& s = last_deferred_.find_or_add(deferred_, id.producer, [] { return SeqSet(); });
    deferred_count_ += s.insert(id.seq).second ? 1 : 0;
    return;
  }
  undefer(id.producer, id.seq);
  queue_ack(peer, id.seq);
}

void ReliableReceiver::release(const std::string& peer, std::string_view producer,
                               std::uint64_t seq) {
  undefer(producer, seq);
  queue_ack(peer, seq);
}

void ReliableReceiver::queue_ack(const std::string& peer, std::uint64_t seq) {
  last_acks_.find_or_add(acks_, peer, [] { return std::vector<std::uint64_t>(); }).push_back(seq);
  if (++acks_waiting_ >= max_acks_per_frame_) flush_acks();
}

void ReliableReceiver::send_drain(const std::string& routing_id) {
  if (drain_buffer_.size() == 0) encode_drain(drain_buffer_);
  // A full pipe or a gone connection: that producer learns it from the unregistration instead.
  (void)send_frame(routing_id, drain_buffer_);
}

bool ReliableReceiver::turn_away(const std::string& peer) {
  // Once per connection while there is room to remember it; beyond that once per envelope,
  // which the peer's own sending bounds.
  if (drained_.size() >= kMaxClaimsRemembered || drained_.insert(peer).second) send_drain(peer);
  return true;
}

void ReliableReceiver::begin_drain() {
  if (draining_) return;
  draining_ = true;
  for (const auto& [id, p] : producers_) {
    for (const Claim& c : p.claims) {
      if (drained_.insert(c.connection).second) send_drain(c.connection);
    }
  }
  for (const auto& [routing_id, seqs] : acks_) {
    if (drained_.insert(routing_id).second) send_drain(routing_id);
  }
}

void ReliableReceiver::flush_acks() {
  if (acks_waiting_ == 0) return;
  for (auto it = acks_.begin(); it != acks_.end();) {
    if (it->second.empty()) {
      // Nothing for it since the last flush: forget the connection (it may be long gone).
      it = acks_.erase(it);
      last_acks_.forget();
      continue;
    }
    encode_ack(it->second, ack_buffer_);
    // A producer that went away cannot take its acks; it re-sends nothing either.
    (void)send_frame(it->first, ack_buffer_);
    it->second.clear();
    ++it;
  }
  acks_waiting_ = 0;
}

}  // namespace brook::detail
