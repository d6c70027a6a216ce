// brook::Node — the runtime a service is written against.
//
//   int main(int argc, char** argv) {
//     brook::Node node(argc, argv);
//     auto out = node.output<Quote>("out");  // a port the topology lacks: exit 2 here
//     node.on<Checkout>("in", [out](const Checkout& c) { out.emit(price(c)); });
//     return node.run();
//   }
//
// Threading: run() turns the calling thread into the node's event loop. That thread owns every
// socket; handlers, timers, watchers and on_ready callbacks run on it, one at a time. emit(),
// every(), after(), cancel(), watch(), counter() and gauge() (and their handles) must be used
// from that thread (or before run()).
// post() and stop() may be called from any thread (stop() also from a signal handler): post()
// is how another thread (a blocking reader, a client library's callback) hands work to the
// loop. There are no hidden worker threads between a socket and a handler (ZeroMQ's own I/O
// thread aside).
//
// Transactional output: what a handler emits leaves when it returns. If it throws, its emits are
// discarded, so a retried message never sends its output twice. Emits from timers, watchers,
// posted functions and on_ready leave at once.
//
// Testing: brook::testing::TestNode (<brook/testing.hpp>, target brook::testing) gives the same
// Node to a unit test, without processes or sockets.
#pragma once

#if __cplusplus < 202002L
#error "brook needs C++20: compile with -std=c++20 (CMake: target_compile_features cxx_std_20)"
#endif

#include <brook/counters.hpp>
#include <brook/envelope.hpp>
#include <brook/envelope_codec.hpp>
#include <brook/error.hpp>
#include <brook/hold.hpp>
#include <brook/log.hpp>
#include <brook/params.hpp>
#include <brook/program_options.hpp>
#include <brook/state.hpp>
#include <brook/topology.hpp>
#include <brook/trace_context.hpp>
#include <brook/type_name.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace brook {

namespace detail {
class NodeEngine;  // what Node forwards to: the event loop of a process, or brook::testing's

// One request's way back to its caller, which a Responder holds: the engine's.
class ReplySlot {
 public:
  virtual ~ReplySlot() = default;
  // `payload`: msgpack bytes of a value of type `type`.
  virtual void reply(std::string_view type, std::span<const std::byte> payload) = 0;
  virtual void fail(std::string_view error) = 0;
  virtual bool replied() const noexcept = 0;
};
}  // namespace detail
namespace testing {
class TestNode;
}  // namespace testing

struct NodeOptions {
  std::filesystem::path topology;
  std::vector<std::string> overrides;   // --set path=value, applied to the topology
  std::string node;                     // which node of the topology this process is
  std::uint32_t instance = 0;           // replica number, 0-based
  std::vector<std::string> directory;   // overrides the topology's directory endpoints
  std::string advertise = "127.0.0.1";  // address inputs are registered under (peers connect)
  std::string bind;                     // address inputs bind to; empty: `advertise`
  LogLevel log_level = LogLevel::kInfo;
  // --log-format; unset: the topology's log.format, else BROOK_LOG_FORMAT, else text.
  std::optional<LogFormat> log_format;
  bool handle_signals =
      true;  // SIGINT/SIGTERM stop the node (one signal-handling node per process)
  std::optional<std::chrono::milliseconds> ready_timeout;  // default: the node spec's
  std::optional<std::chrono::milliseconds> drain_timeout;  // default: the node spec's

  // A topology already in memory (tools build one, e.g. `brook tap`): used instead of loading
  // `topology`; `overrides` are then ignored.
  std::shared_ptr<const Topology> preloaded;
  // Inputs register as observers (taps): producers send them copies best-effort and never hold
  // messages for them, and pubsub inputs do not wait for publishers' welcomes.
  bool observer = false;
  // With `security: curve`: whose key this process uses (an allowlist name; default: the node's
  // name) and, optionally, the secret key file (default: <keys>/<identity>.key_secret).
  std::string identity;
  std::filesystem::path key_file;

  // Values of the node program's own options (see Node(argc, argv, own_options)).
  OptionValues own;

  // Parses a node's command line, including the program's `own_options` if given. Returns
  // nullopt after printing help to `out` for --help; throws UsageError naming the bad option.
  static std::optional<NodeOptions> parse(int argc, const char* const* argv, std::ostream& out,
                                          const ProgramOptions* own_options = nullptr);
  static std::string usage(const ProgramOptions* own_options = nullptr);
};

// A received message, valid only during the handler call it is passed to.
class Message {
 public:
  const EnvelopeView& envelope() const noexcept { return *envelope_; }
  MessageId id() const noexcept { return envelope_->id; }
  std::string_view channel() const noexcept { return envelope_->channel; }
  std::string_view type() const noexcept { return envelope_->type; }
  std::string_view port() const noexcept { return port_; }
  // The ordering key, or nullopt when the producer set none.
  std::optional<std::string_view> key() const noexcept {
    return envelope_->has_key ? std::optional(envelope_->key) : std::nullopt;
  }
  std::uint32_t attempt() const noexcept { return envelope_->attempt; }
  std::string_view header(std::string_view name) const { return envelope_->header(name); }
  std::span<const std::byte> payload_bytes() const noexcept { return envelope_->payload; }

  // The payload as a msgpack object (decoded on first use; strings reference the frame).
  // A malformed payload throws PayloadError, which the runtime counts as a decode error.
  const msgpack::object& payload() const;
  // The payload converted to T; a mismatch throws PayloadError.
  template <class T>
  T as() const;
  // The same into an existing value, which keeps its strings' buffers (fields the payload lacks
  // keep what `into` held).
  template <class T>
  void convert(T& into) const;

 private:
  friend class detail::NodeEngine;
  Message(const EnvelopeView& env, std::string_view port, PayloadDecoder& decoder)
      : envelope_(&env), port_(port), decoder_(&decoder) {}

  const EnvelopeView* envelope_;  // the runtime's, alive while the handler runs (not a copy)
  std::string_view port_;
  PayloadDecoder* decoder_;
  mutable msgpack::object payload_{};
  mutable bool decoded_ = false;
};

// Raised by Message::payload()/as<T>() (and so by typed handlers) for a payload that cannot be
// decoded into the handler's type, and by typed handlers for a message of a type they do not take.
// The runtime counts it under decode_errors, not handler errors, and never retries it.
class PayloadError : public Error {
 public:
  PayloadError(DecodeStatus status, std::string what) : Error(std::move(what)), status_(status) {}
  DecodeStatus status() const noexcept { return status_; }

 private:
  DecodeStatus status_;
};

struct EmitOptions {
  std::optional<std::string_view> key;  // ordering key; also shown by tools
  std::span<const Header> headers;      // viewed, not copied: keep alive during emit()
  std::string_view type;                // overrides type_name<T>()
  // A delivery receipt: called once, on the loop thread, when every consuming node of this
  // at-least-once pipeline output acknowledged the message (after re-sends, if any). Never
  // called for a message that is not acknowledged before the node exits, that on_full: drop
  // discarded, or that a handler's throw discarded (transactional output). It may run while an
  // emit() waits for room (on_full: block): do not emit from it. An emit with it on a
  // best-effort or pubsub output throws brook::Error. Empty (the default) costs nothing.
  std::function<void()> on_acknowledged;
  // The trace this message continues (a bridge or tool passing a W3C traceparent on): its trace
  // id, parent span and flags go into the envelope as they are. Unset (the default): the
  // handled message's trace, or a new one (docs/monitoring.md, "Tracing").
  std::optional<TraceContext> trace;
};

// EmitOptions with just an ordering key: `node.emit("out", v, brook::with_key(id))`. (GCC 12
// warns about a designated initializer `{.key = id}` under -Wextra, so prefer this.)
inline EmitOptions with_key(std::string_view key) {
  EmitOptions o;
  o.key = key;
  return o;
}

// The outcome of a request (Node::request): a reply of type T, or why there is none (the serving
// handler failed or threw, the timeout passed, the replica died, the reply did not convert to T).
template <class T>
class Reply {
 public:
  static Reply success(T value) { return Reply(std::move(value), {}); }
  static Reply failure(std::string error) { return Reply(std::nullopt, std::move(error)); }

  bool ok() const noexcept { return value_.has_value(); }
  // The reply; throws brook::Error with error() when there is none.
  const T& value() const {
    if (!value_) throw Error(error_);
    return *value_;
  }
  // Empty when ok().
  const std::string& error() const noexcept { return error_; }

 private:
  Reply(std::optional<T> v, std::string e) : value_(std::move(v)), error_(std::move(e)) {}
  std::optional<T> value_;
  std::string error_;
};

// How a request handler (Node::on_request) answers: reply(value) or fail(text), now or later, on
// the loop thread (from a timer, a watcher, a posted function, another reply...). Copyable; the
// first answer counts, later ones are ignored. A handler that throws before answering fails the
// request with the exception's text.
template <class T>
class Responder {
 public:
  explicit Responder(std::shared_ptr<detail::ReplySlot> slot) : slot_(std::move(slot)) {}
  void reply(const T& value) const {
    msgpack::sbuffer buf;
    msgpack::pack(buf, value);
    slot_->reply(type_name<T>(), std::span<const std::byte>(
                                     reinterpret_cast<const std::byte*>(buf.data()), buf.size()));
  }
  void fail(std::string_view error) const { slot_->fail(error); }
  bool replied() const noexcept { return slot_->replied(); }

 private:
  std::shared_ptr<detail::ReplySlot> slot_;
};

using TimerId = std::uint64_t;
using WatchId = std::uint64_t;

// Events for Node::watch(): readable, writable, or both (ZeroMQ's ZMQ_POLLIN / ZMQ_POLLOUT).
inline constexpr short kReadable = 1;
inline constexpr short kWritable = 2;

// Marks a port the topology may leave out: `node.on<T>("audit", fn, brook::optional_port)` then
// registers nothing, and `node.output<T>("audit", brook::optional_port)` returns an unbound
// Output, when the node has no such port; without it an unknown port is a ConfigError.
struct OptionalPort {
  explicit constexpr OptionalPort() = default;
};
inline constexpr OptionalPort optional_port{};

// How a typed handler binds to its input port, set with setters (GCC 12 flags designated
// initializers that leave fields out):
//   node.on<Line>("in", fn, brook::also_accept({"legacy.Line"}));
//   node.on<Line>("in", fn, brook::also_accept({"legacy.Line"}).optional());
class HandlerOptions {
 public:
  HandlerOptions() = default;
  // Implicit, so that `node.on<T>(port, fn, brook::optional_port)` reads as it should.
  HandlerOptions(OptionalPort) : optional_(true) {}  // NOLINT(google-explicit-constructor)

  // Envelope types the handler takes besides type_name<T>(): a name producers used before a
  // rename, another language's name for the same payload. Repeatable.
  HandlerOptions& also_accept(std::initializer_list<std::string_view> types) {
    for (std::string_view t : types)
      aliases_.emplace_back(t);
    return *this;
  }
  // The topology may leave the port out (see OptionalPort).
  HandlerOptions& optional() {
    optional_ = true;
    return *this;
  }

  const std::vector<std::string>& aliases() const noexcept { return aliases_; }
  bool is_optional() const noexcept { return optional_; }

 private:
  std::vector<std::string> aliases_;
  bool optional_ = false;
};

inline HandlerOptions also_accept(std::initializer_list<std::string_view> types) {
  return HandlerOptions().also_accept(types);
}

namespace detail {
// A typed handler converts each message into one value it keeps (see Node::on), when T allows.
template <class T>
inline constexpr bool kReusableValue = std::is_default_constructible_v<T>&&
    std::is_copy_constructible_v<T>&& std::is_move_assignable_v<T>;

template <class T>
struct HandlerValue {
  T value{};
  bool busy = false;  // in use: a re-entered handler (a harness delivering in place) gets a new T
  struct Use {
    explicit Use(bool& b) : busy(b) { busy = true; }
    ~Use() { busy = false; }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    bool& busy;
  };
};

template <class F, class T>
void invoke_handler(F& fn, const T& value, const Message& m) {
  if constexpr (std::is_invocable_v<F&, const T&, const Message&>) {
    fn(value, m);
  } else {
    fn(value);
  }
}

// The envelope types a typed handler takes: type_name<T>() and the aliases it declared.
class AcceptedTypes {
 public:
  AcceptedTypes(std::string_view type, std::vector<std::string> aliases)
      : type_(type), aliases_(std::move(aliases)) {}

  // Throws PayloadError (kTypeMismatch) for a message of another type, before its payload is
  // converted: msgpack would fill the fields it lacks with defaults and convert it anyway.
  void check(const Message& m) const {
    if (m.type() == type_) return;
    for (const std::string& alias : aliases_) {
      if (m.type() == alias) return;
    }
    refuse(m);
  }

 private:
  [[noreturn]] void refuse(const Message& m) const;

  std::string_view type_;  // type_name<T>(): static storage
  std::vector<std::string> aliases_;
};
}  // namespace detail

class Node;

// A typed output port, looked up once: `auto out = node.output<Quote>("out");` then
// `out.emit(q)` or `out.emit(q, brook::with_key(id))`, the same as node.emit("out", ...) without
// finding the port by name on every message. A small value (a node pointer and an index):
// copy it into handlers freely; valid as long as its Node. emit() is loop-thread only, like
// Node::emit.
template <class T>
class Output {
 public:
  // Unbound, as node.output<T>(port, brook::optional_port) returns for a port the topology
  // leaves out.
  Output() = default;

  // Whether the handle names a port of this node. Emitting on an unbound handle does nothing and
  // is counted nowhere: the topology did not give the node that port, so nobody consumes it.
  bool bound() const noexcept { return node_ != nullptr; }

  // As Node::emit (same queueing, policies and exceptions).
  void emit(const T& value, const EmitOptions& options = {}) const;

 private:
  friend class Node;
  Output(Node& node, std::size_t index) noexcept : node_(&node), index_(index) {}

  Node* node_ = nullptr;
  std::size_t index_ = 0;
};

class Node {
 public:
  // Parses the command line (see NodeOptions::parse). On --help prints usage and exits 0; on a
  // usage or topology error prints it and exits 2 — a node cannot do anything useful then.
  Node(int argc, char** argv);
  // Same, also accepting the program's own options (shown by --help); read them with option().
  Node(int argc, char** argv, const ProgramOptions& own_options);
  // Loads the topology and sets up sockets' configuration; throws TopologyError, ConfigError.
  explicit Node(NodeOptions options);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Handler for an input port: fn(const T&) or fn(const T&, const Message&). T is any type
  // msgpack-cxx can convert (MSGPACK_DEFINE_MAP structs, std::string, maps...). One handler per
  // port; register before run(). An unknown port is a ConfigError naming the topology file and
  // line of the node, unless `options` say the port is optional.
  //
  // The handler gets only messages whose envelope type is type_name<T>() or one of the aliases
  // in `options` (brook::also_accept). Another type, like a payload that does not convert to T,
  // is undecodable: counted in decode_errors, logged, dead-lettered if the channel has a
  // dead_letter channel, never retried, and the handler does not run.
  template <class T, class F>
  Node& on(std::string_view port, F&& fn, const HandlerOptions& options = {});
  // Untyped handler: the Message gives the envelope and the payload as msgpack; any type.
  Node& on(std::string_view port, std::function<void(const Message&)> fn);
  // The same for a port the topology may leave out: registers nothing then.
  Node& on(std::string_view port, std::function<void(const Message&)> fn, OptionalPort);

  // A typed handle on an output port (see Output). Throws ConfigError naming the topology file
  // and line of the node, and its outputs, when the node has no such port: ask for handles
  // before run(), so a misnamed port stops the node at start rather than at its first emit.
  template <class T>
  Output<T> output(std::string_view port);
  // The same for a port the topology may leave out: an unbound handle then.
  template <class T>
  Output<T> output(std::string_view port, OptionalPort);

  // The node's durable keyed state named `name` (brook/state.hpp; docs/reliability.md,
  // "Exactly-once effects"), in <state_dir>/<topology>/<instance>/state.sqlite. The same name
  // gives a handle on the same table. Call it before run(). Throws ConfigError when an
  // at-least-once output of the node is not durable (a commit could not keep what it emitted),
  // and brook::Error when the database cannot be opened (another process of the same instance
  // holds it, a bad file).
  template <class V>
  State<V> state(std::string_view name) {
    return State<V>(state_table(name));
  }

  // Keeps the at-least-once message being handled unacknowledged after its handler returns,
  // until the Hold is released or given back (brook/hold.hpp). Its producer keeps it meanwhile
  // (re-sends of it are recognised, not handled again) and counts it against its `window`, so
  // hold what completes soon. A stopping node does not wait for holds: what is still held then
  // stays with its producers, which re-send it to the next incarnation or another replica.
  // Throws brook::Error outside a handler, on an input that does not acknowledge (best-effort,
  // pubsub), and in a node that keeps state (node.state(): its commits acknowledge).
  Hold hold();

  // Queues `value` on an output port. Returns once the message is handed to ZeroMQ or held in
  // the port's bounded pending queue; if that queue is full the channel's on_full policy applies:
  // block (up to block_timeout, then BackpressureError), drop (counted), or fail
  // (BackpressureError at once). Throws MessageTooLarge above max_message_size. Loop thread only.
  template <class T>
  void emit(std::string_view port, const T& value, const EmitOptions& options = {});
  // Payload given as msgpack bytes.
  void emit_raw(std::string_view port, std::span<const std::byte> payload, std::string_view type,
                const EmitOptions& options = {});

  // Request/reply (a `pattern: request` channel; docs/runtime.md). Sends `request` on the output
  // port to one replica of the serving node and calls on_reply(const brook::Reply<Rep>&) exactly
  // once on the loop thread: with the reply, or with why there is none — the channel's timeout
  // (or `timeout`) passed, the replica died (re-sent to another one instead if the channel is
  // idempotent), the server failed it. With no replica connected the request waits for one
  // until its timeout. Throws BackpressureError when max_pending requests are outstanding on
  // the port. Loop thread only, after run() started (from on_ready, a handler, a timer...).
  template <class Rep, class Req, class F>
  void request(std::string_view port, const Req& request, F&& on_reply);
  template <class Rep, class Req, class F>
  void request(std::string_view port, const Req& request, std::chrono::milliseconds timeout,
               F&& on_reply);
  // Payload given as msgpack bytes of type `type` (tools, forwarding): on_reply gets the reply
  // message, or nullptr and why there is none.
  void request_raw(std::string_view port, std::span<const std::byte> payload, std::string_view type,
                   std::optional<std::chrono::milliseconds> timeout,
                   std::function<void(const Message* reply, std::string_view error)> on_reply);
  // Serves a request input port: fn(const Req&, brook::Responder<Rep>) answers each request,
  // now or later. A request that does not convert to Req fails back to its caller. One handler
  // per port; register before run(). With brook::optional_port, registers nothing when the
  // topology gives the node no such port.
  template <class Req, class Rep, class F>
  Node& on_request(std::string_view port, F&& fn);
  template <class Req, class Rep, class F>
  Node& on_request(std::string_view port, F&& fn, OptionalPort);

  // Timers run on the loop thread. A zero period runs fn on every loop iteration (a busy source).
  TimerId every(std::chrono::milliseconds period, std::function<void()> fn);
  TimerId after(std::chrono::milliseconds delay, std::function<void()> fn);
  void cancel(TimerId id);

  // Runs fn on the loop thread soon (in order with other posts), from any thread, before or
  // during run(); wakes the loop. What fn throws is logged. Posts after the node stopped never
  // run.
  void post(std::function<void()> fn);
  // Calls fn(events) on the loop thread while the file descriptor is readable and/or writable
  // (`events`: kReadable, kWritable; level-triggered: read what is there, or unwatch). A hang-up
  // or error reports kReadable (read() then sees it). The fd stays the caller's: unwatch() before
  // closing it. watch_socket() does the same for a ZeroMQ socket the node's code owns (a
  // void* from zmq_socket() or cppzmq's socket.handle()).
  WatchId watch(int fd, short events, std::function<void(short events)> fn);
  WatchId watch_socket(void* zmq_socket, short events, std::function<void(short events)> fn);
  void unwatch(WatchId id);

  // A counter or gauge of the node's own (lines seen, a queue's depth), reported with its
  // heartbeats and shown by `brook stats` next to the channel counters:
  //   brook::Counter seen = node.counter("lines_seen");   ++seen;  seen.add(n);
  //   brook::Gauge depth = node.gauge("queue_depth");     depth.set(42);
  // Declared on first use, from 0; the same name gives a handle on the same value. A name is 1 to
  // 64 characters of a-z, 0-9, '_', '.', '-', not shared between a counter and a gauge; a node
  // declares at most kMaxUserMetrics of them (ConfigError otherwise). Take the handle once (before
  // run() or on the loop thread) and keep it: an increment is then a plain add.
  Counter counter(std::string_view name);
  Gauge gauge(std::string_view name);

  // Called once on the loop thread when the node is ready: inputs registered, and every declared
  // consumer of its outputs connected (or the ready timeout expired, which is logged).
  void on_ready(std::function<void()> fn);
  // Called on the loop thread when shutdown begins, before inputs are drained.
  void on_stop(std::function<void()> fn);

  // Runs the event loop until stop() or SIGINT/SIGTERM, then drains inputs, flushes outputs,
  // unregisters and returns the exit code (0 on a clean stop). Blocks the calling thread.
  int run();
  // Asks run() to finish. Thread-safe and async-signal-safe; returns at once.
  void stop() noexcept;

  const Params& params() const noexcept;
  // Value of one of the program's own command-line options (see ProgramOptions); nullopt when
  // not given. Throws UsageError if the option was declared with another type or is unknown.
  template <OptionValue T>
  std::optional<T> option(std::string_view name) const {
    return own_options().get<T>(name);
  }
  const Topology& topology() const noexcept;
  const NodeSpec& spec() const noexcept;
  const std::string& name() const noexcept;  // "basket"
  std::uint32_t instance() const noexcept;
  const std::string& instance_name() const noexcept;  // "basket.0"
  // "basket.0@<incarnation>", the producer of messages on outputs without a journal; a durable
  // output's messages carry "basket.0@j<journal id>", the same in every incarnation.
  const std::string& producer_id() const noexcept;
  bool ready() const noexcept;
  // Loop thread only (see counters.hpp).
  const NodeCounters& counters() const noexcept;
  // The loop's clock, which timers follow: steady_clock in a node process, the test's manual
  // clock under brook::testing. Use it for rates and ages a unit test should control.
  std::chrono::steady_clock::time_point now() const;

 private:
  friend class testing::TestNode;
  template <class T>
  friend class Output;
  explicit Node(std::unique_ptr<detail::NodeEngine> engine);

  template <class T>
  void emit_to(std::size_t output, const T& value, const EmitOptions& options);
  detail::StateTable& state_table(std::string_view name);
  bool has_input(std::string_view port) const noexcept;
  bool has_output(std::string_view port) const noexcept;
  std::size_t output_index(std::string_view port) const;
  const OptionValues& own_options() const noexcept;
  EnvelopeEncoder& encoder() noexcept;
  OutgoingEnvelope begin_emit(std::size_t output, std::string_view type, const EmitOptions& o);
  void finish_emit(std::size_t output, std::span<const std::byte> frame, const EmitOptions& o);
  using ReplyFn = std::function<void(const Message* reply, std::string_view error)>;
  using RequestFn = std::function<void(const Message& request, std::shared_ptr<detail::ReplySlot>)>;
  OutgoingEnvelope begin_request(std::string_view port, std::string_view type);
  void finish_request(std::string_view port, std::span<const std::byte> frame,
                      std::optional<std::chrono::milliseconds> timeout, ReplyFn on_reply);
  void set_request_handler(std::string_view port, RequestFn fn);
  template <class Rep, class Req, class F>
  void send_request(std::string_view port, const Req& request,
                    std::optional<std::chrono::milliseconds> timeout, F&& on_reply);

  std::unique_ptr<detail::NodeEngine> engine_;
};

// ---- templates ---------------------------------------------------------------------------

template <class T>
T Message::as() const {
  const msgpack::object& obj = payload();
  try {
    return obj.as<T>();
  } catch (const msgpack::type_error&) {
    throw PayloadError(DecodeStatus{DecodeErrc::kTypeMismatch, "payload", 0},
                       std::string("payload does not convert to ") + std::string(type_name<T>()));
  }
}

template <class T>
void Message::convert(T& into) const {
  const msgpack::object& obj = payload();
  try {
    obj.convert(into);
  } catch (const msgpack::type_error&) {
    throw PayloadError(DecodeStatus{DecodeErrc::kTypeMismatch, "payload", 0},
                       std::string("payload does not convert to ") + std::string(type_name<T>()));
  }
}

template <class T, class F>
Node& Node::on(std::string_view port, F&& fn, const HandlerOptions& options) {
  static_assert(
      std::is_invocable_v<F&, const T&> || std::is_invocable_v<F&, const T&, const Message&>,
      "handler must be callable as fn(const T&) or fn(const T&, const brook::Message&)");
  if (options.is_optional() && !has_input(port)) return *this;
  return on(port, std::function<void(const Message&)>(
                      [fn = std::forward<F>(fn),
                       accepted = detail::AcceptedTypes(type_name<T>(), options.aliases()),
                       slot = std::conditional_t<detail::kReusableValue<T>, detail::HandlerValue<T>,
                                                 std::monostate>()](const Message& m) mutable {
                        accepted.check(m);
                        if constexpr (detail::kReusableValue<T>) {
                          // One value per handler, converted into: its strings keep their
                          // buffers from message to message (no allocation per message). Reset
                          // first, so a field the payload lacks has its default, as in a new T.
                          if (!slot.busy) {
                            const typename detail::HandlerValue<T>::Use use(slot.busy);
                            slot.value = T{};
                            m.convert(slot.value);
                            detail::invoke_handler(fn, slot.value, m);
                            return;
                          }
                        }
                        detail::invoke_handler(fn, m.as<T>(), m);
                      }));
}

template <class T>
Output<T> Node::output(std::string_view port) {
  return Output<T>(*this, output_index(port));
}

template <class T>
Output<T> Node::output(std::string_view port, OptionalPort) {
  if (!has_output(port)) return Output<T>();
  return output<T>(port);
}

template <class T>
void Node::emit(std::string_view port, const T& value, const EmitOptions& options) {
  emit_to(output_index(port), value, options);
}

template <class T>
void Node::emit_to(std::size_t output, const T& value, const EmitOptions& options) {
  const OutgoingEnvelope env =
      begin_emit(output, options.type.empty() ? type_name<T>() : options.type, options);
  finish_emit(output, encoder().encode(env, value), options);
}

template <class T>
void Output<T>::emit(const T& value, const EmitOptions& options) const {
  if (node_ != nullptr) node_->emit_to(index_, value, options);
}

template <class Rep, class Req, class F>
void Node::send_request(std::string_view port, const Req& request,
                        std::optional<std::chrono::milliseconds> timeout, F&& on_reply) {
  static_assert(std::is_invocable_v<F&, const Reply<Rep>&>,
                "on_reply must be callable as fn(const brook::Reply<Rep>&)");
  const OutgoingEnvelope env = begin_request(port, type_name<Req>());
  finish_request(
      port, encoder().encode(env, request), timeout,
      [fn = std::forward<F>(on_reply)](const Message* m, std::string_view error) mutable {
        if (m == nullptr) {
          fn(Reply<Rep>::failure(std::string(error)));
          return;
        }
        std::optional<Rep> value;
        std::string why;
        try {
          value = m->as<Rep>();
        } catch (const PayloadError& e) {
          why = std::string("the reply (type '") + std::string(m->type()) +
                "') does not convert: " + e.what();
        }
        fn(value ? Reply<Rep>::success(std::move(*value)) : Reply<Rep>::failure(std::move(why)));
      });
}

template <class Rep, class Req, class F>
void Node::request(std::string_view port, const Req& request, F&& on_reply) {
  send_request<Rep>(port, request, std::nullopt, std::forward<F>(on_reply));
}

template <class Rep, class Req, class F>
void Node::request(std::string_view port, const Req& request, std::chrono::milliseconds timeout,
                   F&& on_reply) {
  send_request<Rep>(port, request, timeout, std::forward<F>(on_reply));
}

template <class Req, class Rep, class F>
Node& Node::on_request(std::string_view port, F&& fn, OptionalPort) {
  if (!has_input(port)) return *this;
  return on_request<Req, Rep>(port, std::forward<F>(fn));
}

template <class Req, class Rep, class F>
Node& Node::on_request(std::string_view port, F&& fn) {
  static_assert(std::is_invocable_v<F&, const Req&, Responder<Rep>>,
                "request handler must be callable as fn(const Req&, brook::Responder<Rep>)");
  set_request_handler(port, [fn = std::forward<F>(fn)](
                                const Message& m, std::shared_ptr<detail::ReplySlot> slot) mutable {
    Req value = m.as<Req>();
    fn(value, Responder<Rep>(std::move(slot)));
  });
  return *this;
}

}  // namespace brook
