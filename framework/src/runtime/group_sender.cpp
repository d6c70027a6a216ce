#include "runtime/group_sender.hpp"

#include "runtime/socket_setup.hpp"

namespace brook::detail {

GroupSender::GroupSender(zmq::context_t& context, zmq::socket_type type, const ChannelSpec& channel,
                         std::string node, bool tap, std::chrono::milliseconds linger,
                         ChannelCounters& counters, const Security& security)
    : channel_(&channel),
      tap_(tap),
      max_pending_(tap ? 0 : channel.max_pending),
      counters_(counters),
      socket_(context, type),
      replicas_(context, socket_, std::move(node), security, type == zmq::socket_type::router) {
  configure_data_socket(socket_, channel, linger);
}

void GroupSender::remove_replica(const DirectoryEntry& e) {
  (void)replicas_.remove(e, [this](Replica& r) { replica_gone(r); });
}

void GroupSender::on_monitor_event() {
  replicas_.on_monitor_event([this](Replica& r) { replica_gone(r); });
}

}  // namespace brook::detail
