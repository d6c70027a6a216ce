#include "launch/loss_report.hpp"

#include <charconv>

namespace brook::launch {

bool add_stop_report(std::string_view text, ChannelTotals& into) {
  const auto at = text.find("STOPPED");
  if (at == std::string_view::npos) return false;
  std::string_view rest = text.substr(at + 7);
  rest = rest.substr(0, rest.find('\n'));
  while (!rest.empty()) {
    const auto space = rest.find(' ');
    const std::string_view item = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    // channel:counter=value; a channel name has no ':' or '='.
    const auto colon = item.find(':');
    const auto eq = item.rfind('=');
    if (colon == std::string_view::npos || eq == std::string_view::npos || eq < colon) continue;
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(item.data() + eq + 1, item.data() + item.size(), value);
    if (ec != std::errc() || end != item.data() + item.size()) continue;
    ChannelCounters one;
    if (!one.set(item.substr(colon + 1, eq - colon - 1), value)) continue;
    into[std::string(item.substr(0, colon))] += one;
  }
  return true;
}

std::vector<std::string> describe_losses(const std::string& instance, const ChannelTotals& totals,
                                         const Topology& topology) {
  std::vector<std::string> out;
  for (const auto& [channel, c] : totals) {
    const ChannelSpec* spec = topology.channel(channel);
    const std::string dead_letter = spec != nullptr ? spec->dead_letter : std::string();
    const std::uint64_t failed = failed_for_good(c);
    const std::uint64_t discarded = failed > c.dead_lettered ? failed - c.dead_lettered : 0;
    if (c.dead_lettered > 0) {
      out.push_back(instance + ": " + std::to_string(c.dead_lettered) + " message(s) from '" +
                    channel + "' dead-lettered" +
                    (dead_letter.empty()
                         ? std::string()
                         : " to '" + dead_letter + "' (brook dead ls " + dead_letter +
                               " --topology " + topology.file.string() + ")"));
    }
    if (discarded > 0) {
      out.push_back(instance + ": " + std::to_string(discarded) + " message(s) from '" + channel +
                    "' failed or did not decode, and were discarded" +
                    (dead_letter.empty()
                         ? " (the channel has no dead_letter channel)"
                         // Frames that are not envelopes (junk, another version) have no id
                         // to dead-letter by; the node logged each kind with the peer.
                         : " (not dead-lettered: undecodable, or the dead-letter channel refused "
                           "them; see its log)"));
    }
    if (c.dropped > 0) {
      out.push_back(instance + ": " + std::to_string(c.dropped) + " message(s) to '" + channel +
                    "' dropped (on_full: drop, or a tap too slow)");
    }
  }
  return out;
}

}  // namespace brook::launch
