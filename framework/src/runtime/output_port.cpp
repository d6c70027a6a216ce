#include "runtime/output_port.hpp"

namespace brook::detail {

OutputPort::OutputPort(Reactor& reactor, const PortSpec& port, const ChannelSpec& channel,
                       std::string producer_id, ChannelCounters& counters)
    : reactor_(reactor),
      port_(port.port),
      channel_(&channel),
      producer_id_(std::move(producer_id)),
      counters_(counters) {}

OutputPort::~OutputPort() {
  for (const auto id : readers_)
    reactor_.remove(id);
  for (const auto id : sources_)
    reactor_.remove_source(id);
}

Registration OutputPort::registration() const {
  return Registration{channel_->name, Direction::kOut, channel_->pattern, "", port_, false};
}

Reactor::ReaderId OutputPort::watch_socket(zmq::socket_ref s, std::function<short()> interest,
                                           std::function<void(short)> fn, bool sent_elsewhere) {
  // Control work (the default group): served while an emit waits inside a handler.
  ReaderOptions o;
  o.recheck_always = sent_elsewhere;
  readers_.push_back(reactor_.add_socket(s, std::move(interest), std::move(fn), o));
  return readers_.back();
}

void OutputPort::unwatch(Reactor::ReaderId id) {
  reactor_.remove(id);
  std::erase(readers_, id);
}

bool OutputPort::admit_tap(const DirectoryEntry& e, std::size_t taps, TapRefuser& refuser) {
  if (taps < kMaxTapsPerChannel) return true;
  const bool told = refuser.refuse(e);
  std::uint64_t suppressed = 0;
  if (tap_refusal_log_.allow(suppressed)) {
    BROOK_LOG(kWarn) << "refusing tap " << e.instance_name() << " on channel '" << channel_->name
                     << "': " << taps << " taps already served, the most one producer serves per "
                     << "channel (kMaxTapsPerChannel = " << kMaxTapsPerChannel << ")"
                     << (told ? "" : "; not told: too many refusals this second")
                     << (suppressed ? "; " + std::to_string(suppressed) + " refusals not logged"
                                    : "");
  }
  return false;
}

void OutputPort::watch_source(std::function<Clock::time_point()> next,
                              std::function<void(Clock::time_point)> tick) {
  sources_.push_back(reactor_.add_source(std::move(next), std::move(tick)));
}

}  // namespace brook::detail
