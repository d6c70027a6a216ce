// A node's conversation with one directory, driven by the node's event loop: hello, register,
// heartbeats, and a watch that mirrors the directory's entries of the channels this node
// registers (a snapshot of those channels, then their updates and marks, each channel numbered on
// its own: the ZeroMQ guide's Clone pattern with subtrees). It never blocks: requests go out on a
// DEALER and replies are handled when the loop sees them. A directory that pushes (its hello
// reply says so) sends the changes on that DEALER too, and the SUB stays unconnected: one
// connection per node for the directory to hold, not two.
//
// The directory is soft state. When it is unreachable the session keeps its last known entries,
// so established connections keep flowing; when it comes back with a new epoch the session
// re-registers and only drops entries missing from a snapshot taken once the directory has
// settled (a full TTL after its start, when every live instance has re-registered).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>
#include <zmq.hpp>

#include "directory/directory_protocol.hpp"
#include "security/security.hpp"

namespace brook::detail {

struct InstanceIdentity {
  std::string node;
  std::uint32_t instance = 0;
  std::string incarnation;
  std::string host;
  std::uint32_t pid = 0;
  std::string topology{};  // the directory scope it registers and looks up in
  // Proves to the directory that a re-register, heartbeat or unregister comes from this process:
  // process_token(), the same for every directory.
  std::string token{};
};

// A secret of this process (128 random bits as 32 hex digits), made once: the token of every
// instance it registers. Without CURVE it is what keeps another local process that copied an
// incarnation from taking over or removing a live instance (docs/directory.md#register).
const std::string& process_token();

class DirectorySession {
 public:
  using Clock = std::chrono::steady_clock;

  class Listener {
   public:
    virtual ~Listener() = default;
    virtual void entry_added(const DirectoryEntry& e) = 0;
    virtual void entry_removed(const DirectoryEntry& e) = 0;
    virtual void registered(const std::string& directory_endpoint) = 0;
    virtual NodeCounters heartbeat_counters() = 0;
    // The directory kept refusing this instance's name (another live process holds it) for
    // several leases: the session gave up; `why` says so, naming the fix.
    virtual void name_taken(const std::string& why) = 0;
  };

  // `security` must outlive the session: the directory is a CURVE server holding the
  // "directory" key.
  DirectorySession(zmq::context_t& context, const Security& security, std::string endpoint,
                   InstanceIdentity identity, std::vector<Registration> registrations,
                   std::chrono::milliseconds ttl, std::chrono::milliseconds heartbeat,
                   Listener& listener);

  void* request_socket() noexcept { return dealer_.handle(); }
  void* watch_socket() noexcept { return sub_.handle(); }
  void on_request_readable();
  void on_watch_readable();
  // Sends what is due (hello retries, heartbeats, snapshot requests) and handles timeouts.
  void tick(Clock::time_point now);
  Clock::time_point next_wakeup() const noexcept { return next_wakeup_; }

  bool registered() const noexcept { return phase_ == Phase::kRegistered; }
  bool synced() const noexcept { return have_snapshot_; }
  const std::string& endpoint() const noexcept { return endpoint_; }

  // Shutdown: sends unregister once; done() when acknowledged or given up.
  void begin_unregister();
  bool unregister_done() const noexcept { return unregister_done_; }

 private:
  enum class Phase { kHello, kRegistering, kRegistered, kGaveUp };

  bool send(DirectoryRequestBody body, Clock::time_point now);
  void send_hello(Clock::time_point now);
  void send_register(Clock::time_point now);
  void handle_reply(const DirectoryReply& reply, Clock::time_point now);
  void handle_hello(const HelloReply& r, Clock::time_point now);
  void handle_entries(const EntriesReply& r);
  // A change from the PUB or pushed on the request connection: topic frame, body frame.
  void handle_watch_message(const zmq::message_t& kind, const zmq::message_t& body);
  void handle_update(const DirectoryUpdate& u);
  void handle_tick(const DirectoryTick& t, Clock::time_point now);
  void handle_mark(const DirectoryMark& m);
  SnapshotRequest snapshot_request() const;
  void apply(const DirectoryUpdate& u);
  void add_entry(const DirectoryEntry& e);
  void remove_entry(const DirectoryEntry& e);
  void epoch_seen(const std::string& epoch, Clock::time_point now);
  void reachable(bool yes);
  void reconnect(Clock::time_point now);
  void name_taken(const std::string& detail, Clock::time_point now);
  static std::string key_of(const DirectoryEntry& e);

  zmq::socket_t dealer_;
  zmq::socket_t sub_;
  std::string endpoint_;
  InstanceIdentity identity_;
  std::vector<Registration> registrations_;
  std::chrono::milliseconds ttl_;
  std::chrono::milliseconds heartbeat_;
  Listener& listener_;

  Phase phase_ = Phase::kHello;
  std::string epoch_;
  std::string pub_endpoint_;  // the PUB the SUB is connected to; empty: none
  bool push_ = false;         // the directory pushes our changes on the request connection
  std::uint64_t next_id_ = 1;
  struct Pending {
    std::size_t op;         // the request's index in DirectoryRequestBody
    std::string_view name;  // op_name(), for logs
    Clock::time_point sent;
  };
  // Index of request type T in DirectoryRequestBody, to compare Pending::op with.
  template <class T, class Variant>
  struct IndexIn;
  template <class T, class... Ts>
  struct IndexIn<T, std::variant<Ts...>> {
    static constexpr std::size_t value = [] {
      std::size_t i = 0;
      (void)((std::is_same_v<T, Ts> ? true : (++i, false)) || ...);
      return i;
    }();
  };
  template <class T>
  static constexpr std::size_t op_of = IndexIn<T, DirectoryRequestBody>::value;
  void expire_requests(Clock::time_point now);
  void watch_while_stopping(Clock::time_point now);
  void tick_phase(Clock::time_point now);
  void plan_wakeup(Clock::time_point now);
  void handle_error(const Pending& sent, const ErrorReply& err, Clock::time_point now);
  void handle_ack(const Pending& sent, const AckReply& ack, Clock::time_point now);
  std::map<std::uint64_t, Pending> outstanding_;
  Clock::time_point next_hello_{};
  Clock::time_point next_heartbeat_{};
  Clock::time_point last_reply_{};
  Clock::time_point last_reconnect_{};
  Clock::time_point last_attempt_{};  // the last request sent or tried
  Clock::time_point next_wakeup_{};
  std::optional<Clock::time_point> taken_since_;  // our name held by another live process
  bool reachable_ = true;
  bool ever_registered_ = false;

  // Watch state.
  std::map<std::string, DirectoryEntry> entries_;
  bool have_snapshot_ = false;
  bool snapshot_in_flight_ = false;
  bool needs_snapshot_ = true;
  bool full_reconcile_pending_ = false;  // epoch changed: drop absent entries once settled
  std::set<std::string> watched_;        // the channels of our registrations
  std::map<std::string, std::uint64_t> channel_seq_;  // per watched channel: last update applied
  std::vector<DirectoryUpdate> buffered_;

  bool unregister_sent_ = false;
  bool unregister_done_ = false;
  Clock::time_point unregister_deadline_{};
  Clock::time_point next_watch_{};  // the next snapshot while stopping
};

}  // namespace brook::detail
