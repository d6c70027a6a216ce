// Topology files: load, validate and query (docs/topology.md).
//
// A Topology is an immutable value once loaded; share it freely between threads. Loading reads
// the file and the environment and does not touch the network.
#pragma once

#include <brook/error.hpp>
#include <brook/log.hpp>
#include <brook/params.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brook {

// request: each message is a request to one replica of a serving node, which sends one reply
// back to the asking instance (docs/runtime.md, "Request/reply").
enum class Pattern { kPipeline, kPubsub, kRequest };
enum class RestartPolicy { kNever, kOnFailure, kAlways };
// What emit() does when a channel's pending queue for a consumer group is full.
enum class OnFull { kBlock, kDrop, kFail };
// Pipeline delivery guarantee (docs/reliability.md). Pubsub channels are always best-effort
// (with per-publisher gap counting).
enum class Delivery { kBestEffort, kAtLeastOnce };
// When a durable output's journal is forced to disk (docs/reliability.md, "Durable outputs").
enum class FsyncPolicy { kAlways, kBatch, kNever };

std::string_view to_string(Pattern p) noexcept;
std::optional<Pattern> parse_pattern(std::string_view s) noexcept;
std::string_view to_string(RestartPolicy p) noexcept;
std::string_view to_string(OnFull p) noexcept;
std::string_view to_string(Delivery d) noexcept;
std::string_view to_string(FsyncPolicy f) noexcept;

// Where a value came from: a file position (1-based line and column), or a --set override.
struct SourceLocation {
  std::string file;  // topology file path as given, or "--set key=value" for overrides
  int line = 0;      // 0 when unknown
  int column = 0;
  std::string str() const;  // "file:line:column" (or just file when line is 0)
};

struct Diagnostic {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  SourceLocation where;
  std::string message;
  std::string hint;         // how to fix it; may be empty
  std::string str() const;  // "file:line:col: error: message (hint: ...)"
};

// Thrown by load/parse when there is at least one error; carries every error found, and the
// warnings found alongside them (what() lists the errors only).
class TopologyError : public Error {
 public:
  explicit TopologyError(std::vector<Diagnostic> diagnostics,
                         std::vector<Diagnostic> warnings = {});
  const std::vector<Diagnostic>& diagnostics() const noexcept { return diagnostics_; }
  const std::vector<Diagnostic>& warnings() const noexcept { return warnings_; }

 private:
  std::vector<Diagnostic> diagnostics_;
  std::vector<Diagnostic> warnings_;
};

// The `log:` section: how the topology's nodes write their log lines.
struct LogSpec {
  std::optional<LogFormat> format;  // unset: BROOK_LOG_FORMAT, else text
};

struct DirectorySpec {
  std::vector<std::string> endpoints;  // ROUTER endpoints, e.g. tcp://127.0.0.1:5670
  std::chrono::milliseconds ttl{3000};
  std::chrono::milliseconds heartbeat{1000};
  bool external = false;  // true: `brook up` does not start a directory, someone else runs it
  // ADDRESS:PORT of each directory's HTTP listener (/metrics, /health, /api/topology, the
  // dashboard; docs/monitoring.md); empty: none. Port 0 picks a free one.
  std::string http;
  SourceLocation where;
};

enum class Mechanism { kNone, kCurve };

// A peer that has not finished the ZeroMQ handshake in this time is disconnected.
inline constexpr std::chrono::milliseconds kDefaultHandshakeTimeout{2000};

// `security:` (docs/security.md). With kCurve every socket uses CurveZMQ and only keys on the
// allowlist in `keys` connect.
// Key names that are not node names: the directory's, the command line tools' and the tools'
// short-lived nodes ("cli-tap-4242", which hold the cli key).
inline constexpr std::string_view kDirectoryIdentity = "directory";
inline constexpr std::string_view kCliIdentity = "cli";
inline bool is_tool_node(std::string_view name) noexcept {
  return name.size() > kCliIdentity.size() && name.starts_with(kCliIdentity) &&
         name[kCliIdentity.size()] == '-';
}
inline bool is_reserved_key_name(std::string_view name) noexcept {
  return name == kDirectoryIdentity || name == kCliIdentity || is_tool_node(name);
}

struct SecuritySpec {
  Mechanism mechanism = Mechanism::kNone;
  std::filesystem::path keys;  // the key directory (brook keygen); relative: to the topology file
  std::chrono::milliseconds handshake_timeout = kDefaultHandshakeTimeout;
  SourceLocation where;
};

// `tracing:` (docs/monitoring.md, "Tracing"): spans of sampled messages.
struct TracingSpec {
  double sample = 0;  // fraction of root messages sampled (0: tracing off)
  // JSON-lines span files, one per instance; empty: none. Relative: to the topology file.
  std::filesystem::path spans;
  std::string otlp;  // OTLP/HTTP JSON endpoint, http://host:port/path; empty: none
  SourceLocation where;
};

struct ChannelSpec {
  std::string name;
  Pattern pattern = Pattern::kPipeline;
  std::size_t max_message_size = 1024 * 1024;
  int hwm = 1000;                   // ZeroMQ high-water mark per peer pipe (send and receive)
  std::size_t max_pending = 10000;  // messages held per consumer group while it cannot take more
  OnFull on_full = OnFull::kBlock;
  std::chrono::milliseconds block_timeout{1000};  // bound for OnFull::kBlock
  bool external = false;  // written from outside the topology (brook send, other systems)
  // Pipeline only: at-least-once (the default) keeps each message until a replica acknowledged
  // it after its handler returned, re-sending it to another replica when that one dies or does
  // not answer within ack_timeout; best-effort is plain PUSH/PULL.
  Delivery delivery = Delivery::kAtLeastOnce;
  std::chrono::milliseconds ack_timeout{5000};
  std::size_t window = 10000;  // unacknowledged messages a producer keeps per consumer group
  // When a handler throws: up to `max_attempts` calls in all, waiting initial, 2x initial, ...
  // (at most `max`, with jitter) between them; then the message goes to `dead_letter` (a channel
  // name; empty = none: it is counted as a handler error and logged).
  struct Retry {
    int max_attempts = 1;
    std::chrono::milliseconds initial{100};
    std::chrono::milliseconds max{5000};
  } retry;
  std::string dead_letter;
  // `order_by: key` (at-least-once pipeline only): messages with the same ordering key go to the
  // same replica of each consuming node (rendezvous hashing over its connected replicas), in
  // order; docs/reliability.md says what holds when replicas join or die.
  bool order_by_key = false;
  // Request only: how long a caller waits for a reply (request() may say otherwise), and whether
  // a request whose replica died before replying may be sent to another replica (the handler
  // may then run twice for it).
  std::chrono::milliseconds timeout{5000};
  bool idempotent = false;
  SourceLocation where;

  bool reliable() const noexcept {
    return pattern == Pattern::kPipeline && delivery == Delivery::kAtLeastOnce;
  }
};

// A node's named port mapped to a channel (ROS 2 style remapping: code names ports, the topology
// names channels).
struct PortSpec {
  std::string port;
  std::string channel;
  SourceLocation where;
  // Outputs only: what emit() accepted is kept in an on-disk journal until every consuming node
  // acknowledged it, and re-sent by the next incarnation after a crash (docs/reliability.md).
  bool durable = false;
  FsyncPolicy fsync = FsyncPolicy::kBatch;
  SourceLocation durable_where;  // where `durable:` is written, for checks
};

struct RestartSpec {
  RestartPolicy policy = RestartPolicy::kOnFailure;
  int max_restarts = 10;  // within `window`; then the node is given up
  std::chrono::milliseconds window{60000};
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{5000};
};

struct NodeSpec {
  std::string name;
  std::string exec;                 // as written in the file
  std::filesystem::path exec_path;  // resolved (see docs/topology.md); empty if not found
  std::vector<std::string> args;
  int replicas = 1;
  bool job = false;  // runs to completion; `brook up` exits when all jobs finished
  std::vector<PortSpec> inputs;
  std::vector<PortSpec> outputs;
  // Errors name a position in the file or "<file>: nodes.<name>.params", <file> being
  // Topology::file (the name given to parse_topology for a topology parsed from text).
  Params params;
  std::map<std::string, std::string> env;
  RestartSpec restart;
  std::chrono::milliseconds ready_timeout{5000};
  std::chrono::milliseconds drain_timeout{2000};
  // `host:` names from `hosts:`: none, one for every replica, or one per replica (instance i
  // runs on hosts[i]).
  std::vector<std::string> hosts;
  SourceLocation where;

  const PortSpec* input(std::string_view port) const noexcept;
  const PortSpec* output(std::string_view port) const noexcept;
  // The host instance `instance` runs on; nullptr when the node names none.
  const std::string* host_of(int instance) const noexcept;
};

// One machine of a multi-host topology (`hosts:`, docs/topology.md#hosts).
struct HostSpec {
  std::string name;
  std::string address;  // what its nodes advertise, and directories listen on
  std::string bind;     // what its nodes' inputs bind to; empty: the address
  SourceLocation where;

  const std::string& bind_address() const noexcept { return bind.empty() ? address : bind; }
};

class Topology {
 public:
  std::string name;
  std::filesystem::path file;  // absolute path of the loaded file, empty when parsed from text
  DirectorySpec directory;
  // Where durable outputs keep their journals (relative paths: to the node's working directory).
  std::filesystem::path state_dir = ".brook-state";
  SecuritySpec security;
  LogSpec log;
  TracingSpec tracing;
  std::vector<HostSpec> hosts;        // in file order; empty: one machine
  std::vector<ChannelSpec> channels;  // in file order
  std::vector<NodeSpec> nodes;        // in file order
  std::vector<Diagnostic> warnings;   // non-fatal findings of validation

  const ChannelSpec* channel(std::string_view name) const noexcept;
  const NodeSpec* node(std::string_view name) const noexcept;
  const HostSpec* host(std::string_view name) const noexcept;
  // The directory endpoints `host` runs: those whose address part is its address or name.
  std::vector<std::string> directory_endpoints_on(const HostSpec& host) const;
  // Nodes with an input / output port mapped to `channel`, in file order.
  std::vector<const NodeSpec*> consumers(std::string_view channel) const;
  std::vector<const NodeSpec*> producers(std::string_view channel) const;
};

struct LoadOptions {
  // "path=value" overrides applied before validation. Paths are dotted: `nodes.basket.replicas`,
  // `channels.orders.hwm`, `directory.ttl`; a path starting with a node name is short for
  // `nodes.<name>...` (`basket.params.rate=5`). Values are parsed as YAML scalars/flow nodes.
  std::vector<std::string> overrides;
  // Looks up ${NAME}; defaults to ::getenv. Return nullopt for unset.
  std::function<std::optional<std::string>(const std::string&)> env;
  // Where to look for `exec` names without a slash, before $PATH (e.g. the build's bin dir).
  std::vector<std::filesystem::path> exec_search_path;
  // Maximum file size accepted, to refuse accidental or hostile huge inputs early.
  std::size_t max_file_size = 4 * 1024 * 1024;
  // Look up every node's `exec` (NodeSpec::exec_path, a warning when missing). A node process
  // reading its own topology turns this off: it was started already, and searching $PATH for
  // every other node's program costs a few hundred system calls in a large topology.
  bool resolve_execs = true;
};

// Loads and validates a topology file. Throws TopologyError listing every error found and the
// warnings (kept in Topology::warnings on success). Throws brook::Error if the file cannot be read.
Topology load_topology(const std::filesystem::path& file, const LoadOptions& options = {});

// Same from text; `filename` is used in diagnostics and to resolve relative paths (its directory).
Topology parse_topology(std::string_view text, const std::string& filename,
                        const LoadOptions& options = {});

// Parses "250ms", "3s", "1m", "1h" or a bare integer (milliseconds). nullopt if malformed.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view s) noexcept;
// Parses "512", "64KiB", "1MiB", "1GiB" (also KB/MB/GB as powers of 1000). nullopt if malformed.
std::optional<std::size_t> parse_size(std::string_view s) noexcept;

}  // namespace brook
