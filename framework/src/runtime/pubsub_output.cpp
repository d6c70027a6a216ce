#include "runtime/pubsub_output.hpp"

#include <brook/error.hpp>

namespace brook::detail {

namespace {
// XPUB always reports writable, so what waits for a stalled subscriber is retried this often.
constexpr auto kRetryPeriod = std::chrono::milliseconds(1);
}  // namespace

PubsubOutput::PubsubOutput(Reactor& reactor, zmq::context_t& context, const PortSpec& port,
                           const ChannelSpec& channel, const Topology& topology,
                           std::string producer_id, std::chrono::milliseconds linger,
                           ChannelCounters& counters, const Security& security)
    : OutputPort(reactor, port, channel, producer_id, counters),
      publisher_(context, channel, std::move(producer_id), linger, security),
      tap_refuser_(context, security, channel, producer_id_, kMaxTapsPerChannel) {
  for (const NodeSpec* n : topology.consumers(channel.name))
    declared_.insert(n->name);
  // Subscriptions (hellos) arrive on the XPUB; welcomes are sent from deliver() and flush() too.
  watch_socket(
      publisher_.socket(), [] { return short{ZMQ_POLLIN}; },
      [this](short) { publisher_.on_readable(next_seq_); }, true);
  watch_source([this] { return publisher_.has_work() ? next_flush_ : Clock::time_point::max(); },
               [this](Clock::time_point now) {
                 if (!publisher_.has_work() || now < next_flush_) return;
                 next_flush_ = now + kRetryPeriod;
                 flush();
               });
}

void PubsubOutput::consumer_added(const DirectoryEntry& e) {
  if (e.reg.tap && !publisher_.knows(e) && !admit_tap(e, publisher_.taps(), tap_refuser_)) return;
  publisher_.add_subscriber(e);
}

void PubsubOutput::make_room(const WaitFn& wait) {
  (void)publisher_.flush();
  if (publisher_.pending() < channel_->max_pending) return;
  ++counters_.backpressure;
  if (channel_->on_full == OnFull::kFail) {
    throw BackpressureError("channel '" + channel_->name +
                            "': " + std::to_string(publisher_.pending()) +
                            " messages pending for slow subscribers; on_full is fail");
  }
  if (channel_->on_full == OnFull::kBlock) {
    const auto deadline = Clock::now() + channel_->block_timeout;
    const bool ok = wait(
        [&] {
          (void)publisher_.flush();
          return publisher_.pending() < channel_->max_pending;
        },
        deadline);
    if (!ok) {
      throw BackpressureError("channel '" + channel_->name + "': subscribers took nothing for " +
                              std::to_string(channel_->block_timeout.count()) +
                              " ms; a subscriber is stalled (XPUB_NODROP holds every "
                              "subscriber to the slowest)");
    }
  }
}

std::size_t PubsubOutput::deliver(zmq::message_t& msg, std::uint64_t seq, std::uint64_t, bool,
                                  std::uint64_t) {
  publisher_.send_to_taps(msg);
  const Offer r = publisher_.offer(seq, msg, channel_->on_full != OnFull::kDrop);
  if (r == Offer::kSent) {
    ++counters_.sent;
  } else if (r == Offer::kFull) {
    ++counters_.dropped;
  }
  counters_.pending = publisher_.pending();
  return 0;
}

void PubsubOutput::flush() {
  counters_.sent += publisher_.flush();
  counters_.pending = publisher_.pending();
}

bool PubsubOutput::ready() const {
  for (const auto& node : declared_) {
    if (!publisher_.node_welcomed(node)) return false;
  }
  return publisher_.all_welcomed();
}

std::string PubsubOutput::readiness() const {
  std::string s;
  for (const auto& node : declared_) {
    if (publisher_.node_welcomed(node)) continue;
    if (!s.empty()) s += "; ";
    s += "no instance of '" + node + "' subscribed";
  }
  if (s.empty() && !publisher_.all_welcomed()) s = "some subscribers not yet subscribed";
  return s;
}

}  // namespace brook::detail
