#include "runtime/request_client.hpp"

#include <algorithm>
#include <brook/error.hpp>
#include <brook/log.hpp>

#include "runtime/request_wire.hpp"
#include "runtime/socket_setup.hpp"

namespace brook::detail {

namespace {
constexpr int kMaxRepliesPerRead = 256;
}  // namespace

RequestClient::RequestClient(zmq::context_t& context, const ChannelSpec& channel, std::string node,
                             std::chrono::milliseconds linger, ChannelCounters& counters,
                             const Security& security)
    : channel_(&channel),
      counters_(counters),
      socket_(context, zmq::socket_type::router),
      replicas_(context, socket_, std::move(node), security, true) {
  configure_data_socket(socket_, channel, linger);
  socket_.set(zmq::sockopt::maxmsgsize,
              static_cast<std::int64_t>(kInputFrameCeiling * channel.max_message_size));
  // A send to a replica that is gone or full fails at once: the request then tries another.
  socket_.set(zmq::sockopt::router_mandatory, 1);
  limits_.max_message_size = channel.max_message_size;
}

void RequestClient::remove_replica(const DirectoryEntry& e) {
  (void)replicas_.remove(e, [this](Replica& r) { replica_gone(r, "left the directory"); });
}

void RequestClient::on_monitor_event() {
  replicas_.on_monitor_event([this](Replica& r) { replica_gone(r, "disconnected"); });
  send_waiting();  // a replica that just connected takes what waited
}

void RequestClient::send(std::uint64_t seq, zmq::message_t frame, Clock::time_point deadline,
                         DoneFn done) {
  if (pending_.size() >= channel_->max_pending) {
    ++counters_.backpressure;
    throw BackpressureError("channel '" + channel_->name + "': " + std::to_string(pending_.size()) +
                            " requests to '" + node() +
                            "' are outstanding (max_pending); wait for replies or raise "
                            "max_pending");
  }
  auto [it, inserted] = pending_.emplace(seq, Pending{std::move(frame), deadline, 0, {}, {}});
  if (!inserted) throw Error("request seq " + std::to_string(seq) + " is already outstanding");
  it->second.done = std::move(done);
  deadlines_.emplace(deadline, seq);
  ++counters_.emitted;
  (void)try_send(it->second);
  counters_.in_flight = pending_.size();
}

bool RequestClient::try_send(Pending& p) {
  candidates_.clear();
  replicas_.for_each([&](Replica& r) {
    if (r.connected) candidates_.push_back(&r);
  });
  if (candidates_.empty()) return false;
  // Fewest outstanding first; equally loaded replicas take turns (at low rates all are at 0).
  std::rotate(candidates_.begin(), candidates_.begin() + turn_ % candidates_.size(),
              candidates_.end());
  // Insertion sort: stable, in place (std::stable_sort may allocate), and n is a few replicas.
  for (std::size_t i = 1; i < candidates_.size(); ++i) {
    Replica* r = candidates_[i];
    std::size_t j = i;
    for (; j > 0 && candidates_[j - 1]->in_flight > r->in_flight; --j)
      candidates_[j] = candidates_[j - 1];
    candidates_[j] = r;
  }
  for (Replica* r : candidates_) {
    try {
      if (!socket_.send(zmq::buffer(r->routing_id),
                        zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
        continue;  // its pipe is full
      }
    } catch (const zmq::error_t& err) {
      if (err.num() != EHOSTUNREACH) throw;
      r->connected = false;  // the monitor says when it is back
      continue;
    }
    zmq::message_t copy;
    copy.copy(p.frame);
    (void)socket_.send(copy, zmq::send_flags::dontwait);  // a started message always completes
    ++r->in_flight;
    ++turn_;
    ++counters_.sent;
    p.replica = r->id;
    p.replica_name = r->name;
    return true;
  }
  return false;
}

void RequestClient::send_waiting() {
  if (replicas_.connected() == 0) return;
  for (auto& [seq, p] : pending_) {
    if (p.replica == 0 && !try_send(p)) return;
  }
}

void RequestClient::replica_gone(Replica& r, const char* how) {
  if (r.in_flight == 0) return;
  r.in_flight = 0;
  std::size_t resent = 0;
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto next = std::next(it);
    if (it->second.replica == r.id) {
      if (channel_->idempotent) {
        it->second.replica = 0;
        ++resent;
      } else {
        complete(it, {},
                 "replica " + r.name + " of '" + node() + "' " + how +
                     " before replying; the request is not re-sent (channel '" + channel_->name +
                     "' is not idempotent)");
      }
    }
    it = next;
  }
  if (resent > 0) {
    counters_.redelivered += resent;
    BROOK_LOG(kInfo) << "replica " << r.name << " of '" << node() << "' on '" << channel_->name
                     << "' " << how << " with " << resent
                     << " requests unanswered; sending them to another replica (idempotent)";
    send_waiting();
  }
}

void RequestClient::complete(std::map<std::uint64_t, Pending>::iterator it, zmq::message_t reply,
                             std::string error) {
  Pending& p = it->second;
  if (p.replica != 0) {
    if (Replica* r = replicas_.find(p.replica); r != nullptr && r->in_flight > 0) --r->in_flight;
  }
  deadlines_.erase({p.deadline, it->first});
  completions_.push_back(Completion{std::move(p.done), std::move(reply), std::move(error)});
  pending_.erase(it);
  counters_.in_flight = pending_.size();
}

void RequestClient::on_readable() {
  zmq::message_t id;
  zmq::message_t body;
  for (int i = 0; i < kMaxRepliesPerRead; ++i) {
    if (!socket_.recv(id, zmq::recv_flags::dontwait)) return;
    if (!id.more()) {  // a ROUTER always gives the routing id and what follows
      malformed(id, "no frame after the routing id");
      continue;
    }
    (void)socket_.recv(body, zmq::recv_flags::none);
    if (body.more()) {
      std::size_t parts = 1;  // libzmq delivers a message whole: its parts are all here
      for (; body.more(); ++parts)
        (void)socket_.recv(body, zmq::recv_flags::none);
      malformed(body, "expected 1 frame (an envelope), got " + std::to_string(parts));
      continue;
    }
    read_reply(body);
  }
}

void RequestClient::read_reply(zmq::message_t& frame) {
  EnvelopeView env;
  const std::span<const std::byte> bytes(static_cast<const std::byte*>(frame.data()), frame.size());
  std::uint64_t seq = 0;
  if (const DecodeStatus st = decode_envelope(bytes, limits_, env); !st) {
    malformed(frame, st.describe());
    return;
  }
  if (!parse_reply_to(env, seq)) {
    malformed(frame, "a reply without a numeric reply-to header");
    return;
  }
  const auto it = pending_.find(seq);
  if (it == pending_.end()) {
    ++counters_.duplicates;  // it timed out, or another replica answered first
    return;
  }
  ++counters_.received;
  if (const std::string_view error = env.header(kReplyErrorHeader); !error.empty()) {
    complete(it, {},
             "replica " + it->second.replica_name + " of '" + node() +
                 "' failed the request: " + std::string(error));
    return;
  }
  complete(it, std::move(frame), {});
}

void RequestClient::malformed(const zmq::message_t& frame, const std::string& why) {
  ++counters_.decode_errors;
  std::uint64_t suppressed = 0;
  if (decode_log_.allow(suppressed)) {
    BROOK_LOG(kWarn) << "dropping malformed reply on channel '" << channel_->name << "' from "
                     << peer_address(frame) << " (a replica of '" << node() << "'): " << why << " ("
                     << counters_.decode_errors << " decode errors on this channel"
                     << (suppressed ? ", " + std::to_string(suppressed) + " not logged" : "")
                     << ")";
  }
}

RequestClient::Clock::time_point RequestClient::next_wakeup() const noexcept {
  if (!completions_.empty()) return Clock::time_point::min();
  return deadlines_.empty() ? Clock::time_point::max() : deadlines_.begin()->first;
}

void RequestClient::tick(Clock::time_point now) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const auto it = pending_.find(deadlines_.begin()->second);
    const Pending& p = it->second;
    complete(it, {},
             p.replica == 0 ? "no replica of '" + node() + "' connected within the timeout (" +
                                  std::to_string(replicas_.known()) + " known) on channel '" +
                                  channel_->name + "'"
                            : "timed out waiting for a reply from replica " + p.replica_name +
                                  " of '" + node() + "' on channel '" + channel_->name + "'");
    ++counters_.dropped;
  }
}

void RequestClient::fail_all(const std::string& why) {
  while (!pending_.empty())
    complete(pending_.begin(), {}, why);
}

void RequestClient::run_completions() {
  // Callbacks may send requests (and so complete others): take one at a time.
  while (!completions_.empty()) {
    Completion c = std::move(completions_.front());
    completions_.pop_front();
    if (c.reply.size() == 0) {
      c.done(nullptr, c.error);
      continue;
    }
    EnvelopeView env;
    const std::span<const std::byte> bytes(static_cast<const std::byte*>(c.reply.data()),
                                           c.reply.size());
    (void)decode_envelope(bytes, limits_, env);  // decoded once already
    c.done(&env, {});
  }
}

}  // namespace brook::detail
