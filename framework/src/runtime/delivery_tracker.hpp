// What becomes of a received message around its handler call (docs/reliability.md):
// - chained acknowledgement: an at-least-once message whose handler emitted messages that
//   downstream will acknowledge (outputs without a journal) is acknowledged only once all of
//   those were, so a crash of this node never loses the work in between;
// - retries: a handler that threw is called again after a backoff, up to the channel's
//   max_attempts; meanwhile the message is deferred (a re-send is not handled twice);
// - after the last attempt, or for an undecodable payload: the dead letter, with the reason;
// - holds (Node::hold): a message kept unacknowledged after its handler returned, until the
//   node releases it (then, if released while handling another message, once that one is
//   acknowledged) or gives it back to its producer.
//
// Plain bookkeeping fed an explicit Attempt per handler call; the sockets are the receivers' and
// the output ports'. An input message whose handler emits gets a slot (SlotMap: an index, no
// hashing) whose key, the chain tag, rides with each emitted message in the output's in-flight
// window and comes back with each group's acknowledgement; nothing per emitted message, nothing
// for best-effort inputs.
#pragma once

#include <array>
#include <brook/counters.hpp>
#include <brook/envelope.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "runtime/handling.hpp"
#include "runtime/receiver.hpp"
#include "util/slot_map.hpp"

namespace brook::detail {

class DeliveryTracker {
 public:
  using Clock = std::chrono::steady_clock;

  // One handler call: the message, where it came from, and its chained acknowledgement.
  struct Attempt {
    Receiver& in;
    const EnvelopeView& env;
    const std::string& peer;  // whom to acknowledge (empty: nobody)
    std::uint64_t token = 0;  // its entry in pending_ (the chain tag), once it emitted or held
    // A sampled message's handling span: the parent of what it emits, its dead letter included.
    SpanId span{};
  };

  // `dead_letter(attempt, attempts, error)` sends the attempt's message as a dead letter, as
  // part of the attempt (what it emits there is chained: the message is acknowledged once its
  // dead letter is); true when it was sent.
  using DeadLetterFn =
      std::function<bool(Attempt& a, std::uint32_t attempts, const std::string& error)>;
  explicit DeliveryTracker(DeadLetterFn dead_letter);

  // The tag for what the attempt's handler emits to consumers that acknowledge: their
  // acknowledgements come back with it (acked()). 0 when its input does not acknowledge
  // (nothing to chain).
  std::uint64_t chain(Attempt& a);
  // A message tagged chain(a) (called first) was taken by `takers` consumer groups that
  // acknowledge.
  void emitted(Attempt& a, std::size_t takers);
  // A consumer group acknowledged a message tagged `tag`, once per group and message (the
  // output's in-flight window sees to that). A stale tag (the attempt failed, a retry owns the
  // message) or 0 is ignored.
  void acked(std::uint64_t tag);

  // The handler returned, or failed for good: acknowledge the message now, or once what it
  // emitted is acknowledged.
  void settle(Attempt& a);
  // The handler threw `error` (counted and logged here). Retried after a backoff while the
  // policy allows and the node is not stopping (true: the retry owns the message); otherwise
  // dead-lettered where the channel says, and false: settle() it.
  bool failed(Attempt& a, zmq::message_t& frame, const std::string& error, bool stopping);
  // An undecodable payload: counted, logged, dead-lettered where the channel says. No retry
  // can help; settle() it.
  void undecodable(Attempt& a, const std::string& error, const std::string& from);

  // Retries: when the next is due, and calling `attempt(in, frame, peer, n)` for each due one.
  Clock::time_point next_retry() const noexcept;
  void run_due(Clock::time_point now,
               const std::function<void(Receiver&, zmq::message_t&, const std::string& peer,
                                        std::uint32_t attempt)>& attempt);
  std::size_t retries_waiting() const noexcept { return retries_.size(); }
  // Handled input messages whose acknowledgement waits for what they emitted.
  std::size_t awaiting_acks() const noexcept { return pending_.size(); }
  // Of those, the ones waiting for something besides holds (what a stopping node can await).
  std::size_t awaiting_downstream() const;

  // Holds: the attempt's message stays unacknowledged, also after its handler returns, until
  // release_hold(token) (0: the input does not acknowledge). Several holds of one message
  // release it with the last.
  std::uint64_t hold(Attempt& a);
  // Ends hold `token` (a stale token is ignored): with `after` (the attempt being handled, not
  // the held message itself), once after's message is acknowledged; otherwise now. If after's
  // handler fails, the held message is given back instead.
  void release_hold(std::uint64_t token, Attempt* after);
  // Hold `token`'s message goes back to its producer: not acknowledged, no longer recognised
  // as handled, so the producer's re-send is handled again.
  void give_back(std::uint64_t token);

 private:
  struct Pending {  // an input message whose ack waits for its children's
    // User-provided, so that making one (a message) does not zero producer_bytes first.
    Pending() noexcept {}  // NOLINT(modernize-use-equals-default)
    Receiver* in = nullptr;
    std::string peer;  // a routing id: 5 bytes (libzmq's own), kept inline by std::string
    // Inline, not a std::string: a producer id is longer than std::string keeps inline, and a
    // Pending is made per message. The decoder bounds it by Limits::max_name (255).
    std::array<char, 255> producer_bytes;
    std::uint8_t producer_size = 0;
    std::uint64_t seq = 0;
    std::size_t outstanding = 0;  // acks of children, and holds
    std::size_t holds = 0;
    bool handler_done = false;
    bool given_back = false;            // a hold was given back before the handler returned
    std::vector<std::uint64_t> riders;  // holds released once this message is acknowledged

    std::string_view producer() const noexcept { return {producer_bytes.data(), producer_size}; }
  };
  struct Retry {
    Receiver* in = nullptr;
    zmq::message_t frame;
    std::string peer;
    std::uint32_t attempt = 0;  // the attempt to make
  };

  Pending& pending_of(Attempt& a);
  // Acknowledges the pending message and ends the holds riding on it.
  void finish(std::uint64_t token, Pending& p);
  // The pending message goes back to its producer, and the holds riding on it too.
  void undo(std::uint64_t token, Pending& p);

  DeadLetterFn dead_letter_;
  SlotMap<Pending> pending_;  // by token
  std::multimap<Clock::time_point, Retry> retries_;
  RetryBackoff backoff_;
  LogRateLimiter handler_log_;
  LogRateLimiter decode_log_;
};

}  // namespace brook::detail
