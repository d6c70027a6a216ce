#include "runtime/sub_receiver.hpp"

#include <algorithm>

#include "runtime/socket_setup.hpp"
#include "wire/control_frames.hpp"

namespace brook::detail {

namespace {
constexpr std::size_t kMaxPublishersRemembered = 4096;
// Welcomes remembered from publishers the directory does not list (yet: a welcome may come
// before the listing). Anyone who can reach the input can send welcomes; beyond this the oldest
// unlisted one is forgotten.
constexpr std::size_t kMaxUnlistedWelcomes = 256;
}  // namespace

SubReceiver::SubReceiver(zmq::context_t& context, const PortSpec& port, const ChannelSpec& channel,
                         const ListenAddress& listen, const std::string& own_id, bool tap,
                         std::chrono::milliseconds linger, ChannelCounters& counters,
                         const Security& security)
    : Receiver(context, zmq::socket_type::sub, port, channel, listen, tap, linger, counters,
               security),
      hello_(hello_topic(own_id)) {
  socket_.set(zmq::sockopt::subscribe, channel.name);
  socket_.set(zmq::sockopt::subscribe, hello_);
  // A refusal comes as one frame (an XPUB's welcome message): its start is its topic.
  if (tap) socket_.set(zmq::sockopt::subscribe, tap_refusal_prefix());
  bind(listen);
}

Receiver::Received SubReceiver::receive(zmq::message_t& body, std::string& peer, std::string& why) {
  peer.clear();
  zmq::message_t topic;
  if (!socket_.recv(topic, zmq::recv_flags::dontwait)) return Received::kNothing;
  if (!topic.more()) {
    body.swap(topic);
    if (refused_tap(body, why)) return Received::kRefused;
    why = "expected a topic frame and an envelope frame, got 1 frame";
    return Received::kMalformed;
  }
  (void)socket_.recv(body, zmq::recv_flags::none);
  if (body.more()) {
    why = "expected 2 frames, got " + std::to_string(drain_parts(body, 2));
    return Received::kMalformed;
  }
  const std::string_view t(static_cast<const char*>(topic.data()), topic.size());
  if (t == channel_->name) return Received::kMessage;
  if (t == hello_) {
    Welcome welcome;
    if (!decode_welcome(std::span(static_cast<const std::byte*>(body.data()), body.size()), welcome,
                        why)) {
      return Received::kMalformed;
    }
    remember_welcome(welcome);
    BROOK_LOG(kDebug) << "welcomed by " << welcome.publisher << " on " << channel_->name
                      << " from seq " << welcome.next_seq;
    return Received::kControl;
  }
  // A topic may be as long as a frame; the log shows its start.
  constexpr std::size_t kShown = 64;
  why = "topic '" + std::string(t.substr(0, kShown)) +
        (t.size() > kShown ? "...' (" + std::to_string(t.size()) + " bytes)" : "'") +
        " is not channel '" + channel_->name + "'";
  return Received::kMalformed;
}

void SubReceiver::remember_welcome(const Welcome& welcome) {
  auto [it, added] = welcomed_.insert_or_assign(welcome.publisher, welcome.next_seq);
  if (!added || publishers_.count(welcome.publisher)) return;
  unlisted_welcomes_.push_back(welcome.publisher);
  if (unlisted_welcomes_.size() <= kMaxUnlistedWelcomes) return;
  // Forget the oldest welcome whose publisher is still not listed (listed ones stay).
  const std::string oldest = std::move(unlisted_welcomes_.front());
  unlisted_welcomes_.pop_front();
  if (publishers_.count(oldest)) return;
  welcomed_.erase(oldest);
  std::uint64_t suppressed = 0;
  if (forgotten_log_.allow(suppressed)) {
    BROOK_LOG(kWarn) << "forgot the welcome of '" << oldest << "' on channel '" << channel_->name
                     << "': more than " << kMaxUnlistedWelcomes
                     << " welcomes from publishers the directory does not list"
                     << (suppressed ? " (" + std::to_string(suppressed) + " not logged)" : "");
  }
}

bool SubReceiver::admit(const EnvelopeView& env, const std::string&, const zmq::message_t&) {
  if (!tap_) counters_.gaps += skipped(env.id);
  return true;
}

std::uint64_t SubReceiver::skipped(const MessageId& id) {
  auto it = last_published_.find(id.producer);
  if (it == last_published_.end()) {
    if (last_published_.size() >= kMaxPublishersRemembered) {
      last_published_.erase(last_published_.begin());
    }
    // The first message from a publisher: its welcome says where we joined.
    const auto w = welcomed_.find(std::string(id.producer));
    const std::uint64_t expected = w != welcomed_.end() ? w->second : id.seq;
    last_published_.emplace(std::string(id.producer), id.seq);
    return id.seq > expected ? id.seq - expected : 0;
  }
  const std::uint64_t skipped = id.seq > it->second + 1 ? id.seq - it->second - 1 : 0;
  it->second = std::max(it->second, id.seq);
  return skipped;
}

void SubReceiver::publisher_added(const DirectoryEntry& e) {
  publishers_.insert(e.instance_name() + "@" + e.incarnation);
}

void SubReceiver::publisher_removed(const DirectoryEntry& e) {
  const std::string id = e.instance_name() + "@" + e.incarnation;
  publishers_.erase(id);
  welcomed_.erase(id);
}

std::string SubReceiver::waiting_for() const {
  // A tap reads the publishers' lossy copy socket, which sends no welcomes.
  if (tap_) return {};
  std::string s;
  for (const auto& p : publishers_) {
    if (welcomed_.count(p)) continue;
    if (!s.empty()) s += ", ";
    s += p;
  }
  return s;
}

}  // namespace brook::detail
