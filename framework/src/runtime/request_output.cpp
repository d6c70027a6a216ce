#include "runtime/request_output.hpp"

#include <brook/error.hpp>
#include <brook/log.hpp>

namespace brook::detail {

RequestOutput::RequestOutput(Reactor& reactor, zmq::context_t& context, const PortSpec& port,
                             const ChannelSpec& channel, const Topology& topology,
                             std::string producer_id, std::chrono::milliseconds linger,
                             ChannelCounters& counters, const Security& security)
    : port_(port.port),
      channel_(&channel),
      producer_id_(std::move(producer_id)),
      reactor_(reactor) {
  for (const NodeSpec* n : topology.consumers(channel.name)) {
    clients_.push_back(
        std::make_unique<RequestClient>(context, channel, n->name, linger, counters, security));
    RequestClient& c = *clients_.back();
    readers_.push_back(reactor_.add_socket(zmq::socket_ref(zmq::from_handle, c.monitor_socket()),
                                           ZMQ_POLLIN, [&c](short) { c.on_monitor_event(); }));
    ReaderOptions data;
    data.group = ReactorGroup::kData;  // completes requests: runs callbacks
    data.recheck_always = true;        // requests are sent on it from anywhere
    readers_.push_back(reactor_.add_socket(
        c.socket(), ZMQ_POLLIN, [&c](short) { c.on_readable(); }, data));
    sources_.push_back(reactor_.add_source([&c] { return c.next_wakeup(); },
                                           [&c](Clock::time_point now) {
                                             if (c.next_wakeup() <= now) c.tick(now);
                                             c.run_completions();
                                           },
                                           ReactorGroup::kData));
  }
}

RequestOutput::~RequestOutput() {
  for (const auto id : readers_)
    reactor_.remove(id);
  for (const auto id : sources_)
    reactor_.remove_source(id);
}

Registration RequestOutput::registration() const {
  return Registration{channel_->name, Direction::kOut, Pattern::kRequest, "", port_, false};
}

void RequestOutput::send(std::uint64_t seq, zmq::message_t frame, Clock::time_point deadline,
                         RequestClient::DoneFn done) {
  RequestClient* best = nullptr;
  for (auto& c : clients_) {
    if (best == nullptr) best = c.get();  // with no replica anywhere, waits for the first node's
    if (c->connected_replicas() == 0) continue;
    if (best->connected_replicas() == 0 || c->outstanding() < best->outstanding()) best = c.get();
  }
  if (best == nullptr) {
    throw ConfigError("request channel '" + channel_->name + "' has no serving node");
  }
  best->send(seq, std::move(frame), deadline, std::move(done));
}

void RequestOutput::fail_all(const std::string& why) {
  for (auto& c : clients_) {
    c->fail_all(why);
    c->run_completions();
  }
}

void RequestOutput::consumer_added(const DirectoryEntry& e) {
  if (e.reg.tap) return;  // requests are never copied to observers
  for (auto& c : clients_) {
    if (c->node() == e.node) c->add_replica(e);
  }
}

void RequestOutput::consumer_removed(const DirectoryEntry& e) {
  for (auto& c : clients_) {
    if (c->node() == e.node) c->remove_replica(e);
  }
}

bool RequestOutput::ready() const {
  for (const auto& c : clients_) {
    if (c->connected_replicas() == 0) return false;
  }
  return true;
}

std::string RequestOutput::readiness() const {
  std::string s;
  for (const auto& c : clients_) {
    if (c->connected_replicas() > 0) continue;
    if (!s.empty()) s += "; ";
    s += c->known_replicas() == 0 ? "no replica of '" + c->node() + "' registered"
                                  : "no replica of '" + c->node() + "' connected";
  }
  return s;
}

}  // namespace brook::detail
