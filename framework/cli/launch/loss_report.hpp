// Messages a node failed to deliver, as its STOPPED line reports them (BROOK_REPORT_FD, written
// at stop whatever its log level) and `brook up` sums them over an instance's incarnations: the
// end summary names them, and a job topology that lost any ends with exit status 1.
#pragma once

#include <brook/counters.hpp>
#include <brook/topology.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace brook::launch {

// Counters per channel of one instance.
using ChannelTotals = std::map<std::string, ChannelCounters>;

// Messages whose handling failed for good: the last attempt of a handler threw (handler_errors
// counts every attempt, retried the attempts after the first), or the message was undecodable.
// Dead-lettered ones are among them.
inline std::uint64_t failed_for_good(const ChannelCounters& c) noexcept {
  return (c.handler_errors > c.retried ? c.handler_errors - c.retried : 0) + c.decode_errors;
}

// Adds the counters of the STOPPED line in `text` ("STOPPED work:handler_errors=3 ...") to
// `into`; skips what it does not understand (a newer node's counters). False without a line.
bool add_stop_report(std::string_view text, ChannelTotals& into);

// One line per channel of `instance` ("sink.0") with messages dead-lettered, failed and
// discarded, or dropped; none when nothing was lost.
std::vector<std::string> describe_losses(const std::string& instance, const ChannelTotals& totals,
                                         const Topology& topology);

}  // namespace brook::launch
