// Messages of the directory protocol (docs/directory.md) and their msgpack encoding.
//
// Requests and replies are single frames holding a msgpack map with string keys; change
// notifications are two frames, a kind ("update" or "tick") and a map. Decoding is strict and
// bounded and reports problems as values (ProtocolStatus), never by crashing or throwing.
#pragma once

#include <brook/counters.hpp>
#include <brook/topology.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace brook {

// 2: channel topics, prev, marks; 3: topology scopes
inline constexpr std::uint32_t kDirectoryProtocolVersion = 3;
inline constexpr std::size_t kMaxDirectoryFrame = 4 * 1024 * 1024;
// The longest `token` a register, heartbeat or unregister may carry (brook sends 32 hex digits).
inline constexpr std::size_t kMaxDirectoryToken = 64;

enum class Direction { kIn, kOut };
std::string_view to_string(Direction d) noexcept;

// One port of one instance as registered: an input carries the endpoint it bound.
struct Registration {
  std::string channel;
  Direction direction = Direction::kIn;
  Pattern pattern = Pattern::kPipeline;
  std::string endpoint;  // inputs: where producers connect; outputs: empty
  std::string port;      // the node's port name (informational)
  bool tap = false;      // an observer (brook tap): producers send copies best-effort
  bool operator==(const Registration&) const = default;
};

// A registration together with the instance that made it: the unit the directory publishes.
struct DirectoryEntry {
  std::string node;
  std::uint32_t instance = 0;
  std::string incarnation;  // unique per process start; a restart registers a new one
  Registration reg;
  std::string topology{};  // the scope it was registered in ("" = unnamed)

  std::string instance_name() const;  // "node.instance"
  bool operator==(const DirectoryEntry&) const = default;
};

struct InstanceInfo {
  std::string node;
  std::uint32_t instance = 0;
  std::string incarnation;
  std::string host;
  std::uint32_t pid = 0;
  std::uint32_t lease_ms = 0;
  std::uint64_t age_ms = 0;         // since the last register/heartbeat
  std::uint64_t registered_ms = 0;  // since registration
  std::vector<Registration> registrations;
  NodeCounters counters;
  std::string topology{};
};

// ---- requests ----------------------------------------------------------------------------
//
// Instances and channels live in the scope of a topology: two topologies on one directory may
// both have a node "worker" and a channel "jobs" without meeting. `topology` names the scope of
// a register, heartbeat, unregister, resolve or snapshot ("" = the unnamed scope); `list`
// reports every scope.
//
// `token` is a secret of the registering process (random, one per process): once an instance was
// registered with one, only requests carrying the same token may re-register, renew or remove it,
// so copying its incarnation (which `list` and every envelope show) is not enough to take it over.
// "" = none (a client that predates tokens). The directory never sends it back.

struct HelloRequest {
  // Asks whether the directory pushes an instance's changes on this connection (docs/directory.md,
  // "Pushed changes"), so the client need not connect to its PUB.
  bool push = false;
};
struct RegisterRequest {
  std::string node;
  std::uint32_t instance = 0;
  std::string incarnation;
  std::string host;
  std::uint32_t pid = 0;
  std::uint32_t lease_ms = 0;  // 0: the directory's default TTL
  std::vector<Registration> registrations;
  std::string topology{};
  std::string token{};
  // Send this instance its changes (ticks, and the updates and marks of its registrations'
  // channels) on this connection rather than only on the PUB: a hello reply said push.
  bool push = false;
};
struct HeartbeatRequest {
  std::string node;
  std::uint32_t instance = 0;
  std::string incarnation;
  NodeCounters counters;
  std::string topology{};
  std::string token{};
};
struct UnregisterRequest {
  std::string node;
  std::uint32_t instance = 0;
  std::string incarnation;
  std::string topology{};
  std::string token{};
};
struct ResolveRequest {
  std::string channel;
  std::string topology{};
};
struct SnapshotRequest {
  // Only the entries of these channels (a watcher's own); empty = every entry of the scope.
  std::vector<std::string> channels;
  std::string topology{};
};
struct ListRequest {};

using DirectoryRequestBody =
    std::variant<HelloRequest, RegisterRequest, HeartbeatRequest, UnregisterRequest, ResolveRequest,
                 SnapshotRequest, ListRequest>;

struct DirectoryRequest {
  std::uint64_t id = 0;  // chosen by the client, echoed in the reply
  DirectoryRequestBody body;
};

std::string_view op_name(const DirectoryRequestBody& body) noexcept;

// ---- replies -----------------------------------------------------------------------------

// Error codes a directory replies with (wire strings in docs/directory.md).
enum class DirectoryErrc {
  kBadRequest,        // malformed frame or fields
  kUnknownOp,         // op not understood
  kUnknownInstance,   // heartbeat/unregister for an instance the directory does not know
  kStaleIncarnation,  // an older incarnation than the one registered
  kTooLarge,
  kDenied,
};
std::string_view to_string(DirectoryErrc e) noexcept;
std::optional<DirectoryErrc> parse_directory_errc(std::string_view s) noexcept;

struct DirectoryState {
  std::string epoch;      // random id of this directory process; changes on restart
  std::uint64_t seq = 0;  // sequence number of the last published change
  std::uint64_t uptime_ms = 0;
  bool settled = false;  // uptime >= TTL: every live instance has had time to re-register
};

struct HelloReply {
  DirectoryState state;
  std::string pub_endpoint;  // where change notifications are published
  std::uint32_t ttl_ms = 0;
  std::uint32_t heartbeat_ms = 0;
  bool push = false;  // the hello asked, and this directory pushes to instances that register so
};
struct AckReply {
  DirectoryState state;
};
struct EntriesReply {  // resolve and snapshot
  DirectoryState state;
  std::vector<DirectoryEntry> entries;
  // Snapshot only: for each channel it covers that has had an update, the seq of that channel's
  // last update (the `prev` of its next one). A channel not listed has had none.
  std::map<std::string, std::uint64_t> channel_seq;
};
struct ListReply {
  DirectoryState state;
  std::vector<InstanceInfo> instances;
};
struct ErrorReply {
  DirectoryErrc code = DirectoryErrc::kBadRequest;
  std::string detail;
};

using DirectoryReplyBody = std::variant<HelloReply, AckReply, EntriesReply, ListReply, ErrorReply>;

struct DirectoryReply {
  std::uint64_t id = 0;
  DirectoryReplyBody body;
};

// ---- notifications -----------------------------------------------------------------------

enum class ChangeOp { kAdd, kRemove };
enum class ChangeReason { kRegistered, kUnregistered, kExpired, kReplaced };
std::string_view to_string(ChangeOp op) noexcept;
std::string_view to_string(ChangeReason r) noexcept;

struct DirectoryUpdate {
  std::string epoch;
  std::uint64_t seq = 0;
  // seq of the previous update of the same channel (0: none), so a watcher that follows only
  // its own channels still sees a gap in each of them.
  std::uint64_t prev = 0;
  ChangeOp op = ChangeOp::kAdd;
  ChangeReason reason = ChangeReason::kRegistered;
  DirectoryEntry entry;
};

struct DirectoryTick {
  DirectoryState state;
};

// How far a channel has gone: published under the channel's mark topic with every tick, for
// each channel updated within the last kRecentChanges. A watcher that has seen less of the
// channel lost an update (updates and marks share the PUB socket, so a mark arrives after every
// update it counts).
struct DirectoryMark {
  std::string epoch;
  std::string channel;
  std::uint64_t seq = 0;  // the channel's last update
  std::string topology{};
};

inline constexpr std::chrono::milliseconds kRecentChanges{10000};

// PUB frame 1. Updates and marks are published under their channel's topics, so a watcher
// subscribes to the channels it uses (and to ticks) instead of receiving every change of the
// topology. A channel of a named topology is "<topology>/<channel>" in its topics (names are
// [A-Za-z0-9_-], so the two parts cannot be confused).
inline constexpr std::string_view kUpdateKind = "update:";  // prefix of every update topic
inline constexpr std::string_view kMarkKind = "mark:";      // prefix of every mark topic
inline constexpr std::string_view kTickKind = "tick";
std::string update_topic(std::string_view topology, std::string_view channel);
std::string mark_topic(std::string_view topology, std::string_view channel);
// A channel's (or node's) name within its topology's scope: "name" or "topology/name".
std::string scoped_name(std::string_view topology, std::string_view name);
// A node, channel or topology name as the directory takes it: [A-Za-z0-9_-]{1,64}.
bool valid_directory_name(std::string_view s) noexcept;
bool is_update_topic(std::string_view frame) noexcept;
bool is_mark_topic(std::string_view frame) noexcept;

// ---- codec -------------------------------------------------------------------------------

struct [[nodiscard]] ProtocolStatus {
  bool ok = true;
  std::string error;                                // what was wrong, naming the field
  DirectoryErrc code = DirectoryErrc::kBadRequest;  // what to answer a bad request with
  explicit operator bool() const noexcept { return ok; }
  static ProtocolStatus failure(std::string why, DirectoryErrc code = DirectoryErrc::kBadRequest) {
    return {false, std::move(why), code};
  }
};

std::string encode(const DirectoryRequest& r);
std::string encode(const DirectoryReply& r);
std::string encode(const DirectoryUpdate& u);
std::string encode(const DirectoryTick& t);
std::string encode(const DirectoryMark& m);

ProtocolStatus decode(std::span<const std::byte> frame, DirectoryRequest& out);
ProtocolStatus decode(std::span<const std::byte> frame, DirectoryReply& out);
ProtocolStatus decode(std::span<const std::byte> frame, DirectoryUpdate& out);
ProtocolStatus decode(std::span<const std::byte> frame, DirectoryTick& out);
ProtocolStatus decode(std::span<const std::byte> frame, DirectoryMark& out);

}  // namespace brook
