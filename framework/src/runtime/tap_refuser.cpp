#include "runtime/tap_refuser.hpp"

#include <brook/error.hpp>
#include <brook/log.hpp>
#include <msgpack.hpp>

#include "wire/control_frames.hpp"

namespace brook::detail {

namespace {
// Refusals sent per second per channel, and tap instances remembered as told: bounds on what a
// flood of tap registrations costs the producer (each refusal is a socket for up to kLinger).
constexpr std::size_t kMaxRefusalsPerSecond = 16;
constexpr std::size_t kMaxTold = 1024;
constexpr std::chrono::milliseconds kHold{1000};  // open at least this long
constexpr std::chrono::milliseconds kLinger{1000};
}  // namespace

TapRefuser::TapRefuser(zmq::context_t& context, const Security& security,
                       const ChannelSpec& channel, const std::string& producer_id,
                       std::size_t limit)
    : context_(&context), security_(&security), channel_(&channel) {
  msgpack::sbuffer buf;
  encode_tap_refusal(TapRefusal{producer_id, channel.name, limit}, buf);
  frame_.assign(buf.data(), buf.size());
}

bool TapRefuser::refuse(const DirectoryEntry& tap) {
  const std::string id = tap.instance_name() + "@" + tap.incarnation;
  if (told_.count(id)) return true;
  const auto now = Clock::now();
  while (!open_.empty() && open_.front().first <= now)
    open_.pop_front();
  if (now >= window_end_) {
    window_end_ = now + std::chrono::seconds(1);
    sent_in_window_ = 0;
  }
  if (sent_in_window_ >= kMaxRefusalsPerSecond) return false;
  const bool pubsub = channel_->pattern == Pattern::kPubsub;
  try {
    zmq::socket_t s(*context_, pubsub ? zmq::socket_type::xpub : zmq::socket_type::push);
    s.set(zmq::sockopt::linger, static_cast<int>(kLinger.count()));
    security_->configure_client(s, tap.node);
    if (pubsub) s.set(zmq::sockopt::xpub_welcome_msg, frame_);
    s.connect(tap.reg.endpoint);
    if (!pubsub) (void)s.send(zmq::buffer(frame_), zmq::send_flags::dontwait);
    open_.emplace_back(now + kHold, std::move(s));
  } catch (const ConfigError& e) {
    BROOK_LOG(kDebug) << "cannot tell tap " << id << " it is refused: " << e.what();
    return false;
  } catch (const zmq::error_t& e) {
    BROOK_LOG(kDebug) << "cannot tell tap " << id << " it is refused: " << e.what();
    return false;
  }
  ++sent_in_window_;
  if (told_.size() >= kMaxTold) told_.clear();
  told_.insert(id);
  return true;
}

}  // namespace brook::detail
