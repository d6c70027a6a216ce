// Tells a tap that this producer will not serve it (it already serves kMaxTapsPerChannel), so the
// tap can say so and exit instead of printing nothing: one tap-refused frame (docs/wire.md,
// "Taps") from a socket opened for it. Pipeline taps read a PULL, so a PUSH sends it; pubsub taps
// a SUB, so an XPUB hands it over as its welcome message (XPUB_WELCOME_MSG), which needs no
// subscription first. The socket stays open a second, since an XPUB closed before its
// connection completed never sends its welcome (linger or not): it is closed by the first
// refusal after that, or with the producer. At most 16 refusals a second, so at most 32 sockets.
#pragma once

#include <brook/topology.hpp>
#include <chrono>
#include <deque>
#include <set>
#include <string>
#include <utility>
#include <zmq.hpp>

#include "directory/directory_protocol.hpp"
#include "security/security.hpp"

namespace brook::detail {

class TapRefuser {
 public:
  TapRefuser(zmq::context_t& context, const Security& security, const ChannelSpec& channel,
             const std::string& producer_id, std::size_t limit);

  // Sends `tap` its refusal once. False when it was not sent: this second's refusals were all
  // used (each costs a socket for up to its linger), or the tap cannot be connected to.
  bool refuse(const DirectoryEntry& tap);

 private:
  using Clock = std::chrono::steady_clock;

  zmq::context_t* context_;
  const Security* security_;
  const ChannelSpec* channel_;
  std::string frame_;
  std::set<std::string> told_;  // tap instances refused (bounded: cleared when full)
  std::deque<std::pair<Clock::time_point, zmq::socket_t>> open_;  // by when each may close
  Clock::time_point window_end_{};
  std::size_t sent_in_window_ = 0;
};

}  // namespace brook::detail
