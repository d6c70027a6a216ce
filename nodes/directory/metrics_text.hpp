// /metrics of the directory's HTTP listener: every instance's last heartbeat and the directory's
// own counters in the Prometheus text exposition format 0.0.4 (docs/monitoring.md#metrics).
// Plain logic over a MonitorSnapshot.
#pragma once

#include <string>
#include <string_view>

#include "monitor_snapshot.hpp"

namespace brook {

std::string render_metrics(const MonitorSnapshot& s);

// The help text of a channel counter by its wire name, and whether it is a gauge; empty help
// for a name it does not know (every kChannelCounterFields name has one: a unit test checks).
struct ChannelMetricInfo {
  std::string_view help;
  bool gauge = false;
};
ChannelMetricInfo channel_metric_info(std::string_view name) noexcept;

}  // namespace brook
