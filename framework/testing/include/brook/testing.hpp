// brook::testing — unit-test a node in-process: no processes, sockets or directory, and a clock
// the test moves. Link brook::testing (CMake) and wire the node's handlers on TestNode::node(),
// the same brook::Node a process runs, so the code under test is the node's own:
//
//   void wire_pricing(brook::Node& node);            // the node's handlers, shared with main()
//
//   auto t = brook::testing::TestNode::from_file("topology.yaml", "pricing");
//   wire_pricing(t.node());
//   t.start();                                       // on_ready callbacks run
//   const auto& d = t.send("in", Basket{"b1", {...}});
//   EXPECT_EQ(d.outcome, brook::testing::Outcome::kHandled);
//   EXPECT_EQ(t.emitted_as<Quote>("out").at(0).total_cents, 1234);
//   t.advance(std::chrono::seconds(1));              // timers and handler retries that fall due
//
// What is the same as in a node process: the topology's ports and channels (unknown ports are
// ConfigErrors), envelope encoding and strict decoding with the channel's limits, typed
// handlers (a message of another type, or a payload that does not convert, is undecodable), output
// handles and optional ports, de-duplication and acknowledgement on
// at-least-once inputs, handler retries with the channel's backoff, dead letters with their
// headers, trace propagation, counters (the node's own too: counter(), gauge()), timers,
// on_ready/on_stop, MessageTooLarge, request/reply (the test serves the requests the node sends,
// and sends requests to the ports the node serves; timeouts and max_pending on the test's clock).
// What is not modelled: sockets and peers (every emit is captured and taken at once, so there is
// no backpressure and downstream acknowledgement is immediate), durable output journals, the
// directory, pubsub gaps, and threads (call everything from the test's thread).
#pragma once

#include <brook/node.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <msgpack.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace brook {
namespace detail {
class TestEngine;
}  // namespace detail

namespace testing {

// What became of a message sent to an input port (so far: a retry may change it).
enum class Outcome {
  kHandled,       // the handler returned
  kRetrying,      // the handler threw; another attempt is due (advance the clock)
  kFailed,        // the handler threw on the last attempt, and the channel has no dead_letter
  kDeadLettered,  // the handler threw on the last attempt, or the message was undecodable: sent
                  // to the channel's dead_letter channel (see dead_letters())
  kUndecodable,   // of a type the handler does not take, or its payload does not convert to the
                  // handler's type; never retried, no dead_letter channel
  kMalformed,     // the frame is not a valid envelope under the channel's limits (dropped)
  kWrongChannel,  // the envelope names another channel than the port's: not acknowledged (a
                  // producer with a stale address keeps it), counted in `misrouted`; dropped and
                  // counted in `decode_errors` on a best-effort input
  kDuplicate,     // at-least-once: already handled here, not handled again
  kDeclined,      // at-least-once: the handler threw brook::Declined on its first attempt; not
                  // acknowledged, so a producer would re-send it (send it again to see that);
                  // also a held message given back (brook::Hold::give_back)
  kHeld,          // at-least-once: handled, and held (Node::hold): acknowledged when released
};
std::string_view to_string(Outcome o) noexcept;

// One message sent to an input port. Lives as long as the TestNode; updated when a retry runs.
struct Delivery {
  std::string port;
  std::string producer;  // the message id: producer and sequence number
  std::uint64_t seq = 0;
  Outcome outcome = Outcome::kHandled;
  std::uint32_t attempts = 0;       // handler calls made
  std::vector<std::string> errors;  // what each failed call threw, or why the frame was refused
  // At-least-once inputs: acknowledged to the producer, which then forgets the message (a
  // process acknowledges after the handler's outcome is final). Always false on other inputs.
  bool acknowledged = false;
};

// One message a node emitted, as its consumers would receive it.
struct Emitted {
  std::string port;  // output port; "~dead-letter:<input channel>" for dead letters
  Envelope envelope;
  std::vector<std::byte> frame;  // the encoded envelope, e.g. for another TestNode's send_frame
  // Non-empty when consumers would drop the frame (their decoder refuses it): the reason.
  std::string refused;

  std::optional<std::string_view> key() const {
    return envelope.has_key ? std::optional<std::string_view>(envelope.key) : std::nullopt;
  }
  std::string_view header(std::string_view name) const;  // empty if absent
  // The payload converted to T; throws PayloadError when it does not convert.
  template <class T>
  T as() const;
};

// How a message is sent: SendOptions().with_key("b1").from("basket.0@abc", 7). (Setters rather
// than designated initializers, which GCC 12 flags under -Wextra when a field is left out.)
struct SendOptions {
  std::optional<std::string> key;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string type;                  // default: brook::type_name<T>()
  std::string producer;              // default: "producer.0@test"
  std::optional<std::uint64_t> seq;  // default: the producer's next on this port, from 1

  SendOptions& with_key(std::string k) {
    key = std::move(k);
    return *this;
  }
  SendOptions& with_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  SendOptions& with_type(std::string t) {
    type = std::move(t);
    return *this;
  }
  // The message id: a producer and, optionally, its sequence number.
  SendOptions& from(std::string p, std::optional<std::uint64_t> s = std::nullopt) {
    producer = std::move(p);
    seq = s;
    return *this;
  }
  SendOptions& with_seq(std::uint64_t s) {
    seq = s;
    return *this;
  }
};

// A request sent to one of the node's request input ports (TestNode::request) and how its
// handler answered. Lives as long as the TestNode; a handler that keeps its Responder answers later
// (from a timer, a reply of its own...), and this record follows.
struct ServedRequest {
  std::string port;
  std::uint64_t seq = 0;
  bool answered = false;
  // Answered without a reply: what the handler threw or gave Responder::fail, or why the request
  // did not convert to its type. Empty otherwise.
  std::string error;
  Envelope reply;  // answered with a reply: the reply as the caller receives it

  // What the caller's on_reply gets: the reply converted to T, or the failure. Throws
  // brook::Error while the request is not answered.
  template <class T>
  Reply<T> reply_as() const;
};

// A request the node sent on a request output port (Node::request). The test answers it
// (TestNode::reply, fail_request, or a serve() function), or its timeout passes on the test's
// clock, and the node's on_reply runs. Lives as long as the TestNode.
struct SentRequest {
  enum class State { kPending, kReplied, kFailed, kTimedOut };
  std::string port;
  Envelope envelope;  // the request as a serving node receives it
  std::chrono::steady_clock::time_point deadline;
  State state = State::kPending;

  // The request's payload converted to T; throws PayloadError when it does not convert.
  template <class T>
  T as() const;
};
std::string_view to_string(SentRequest::State s) noexcept;

struct TestOptions {
  std::uint32_t instance = 0;
  std::vector<std::string> overrides;  // --set path=value, as on a node's command line
  LogLevel log_level = LogLevel::kWarn;
  // The program's own options, as main() declares them for Node(argc, argv, own), and the
  // command line given for them, e.g. {"--rate", "10"}: node.option<T>() reads them as in a
  // process. Parsed by the node's command-line parser: a bad value is a UsageError.
  std::optional<ProgramOptions> program_options;
  std::vector<std::string> args;

  TestOptions& with_instance(std::uint32_t i) {
    instance = i;
    return *this;
  }
  TestOptions& with_override(std::string path_value) {
    overrides.push_back(std::move(path_value));
    return *this;
  }
  TestOptions& with_log_level(LogLevel l) {
    log_level = l;
    return *this;
  }
  TestOptions& with_program_options(ProgramOptions declared, std::vector<std::string> given = {}) {
    program_options = std::move(declared);
    args = std::move(given);
    return *this;
  }
};

class TestNode {
 public:
  using Clock = std::chrono::steady_clock;

  // The node named `node` of a topology file, of topology YAML text (a whole topology, usually a
  // few lines; `name` stands for the file in diagnostics and for relative paths), or of a
  // Topology built in C++. Throws TopologyError or ConfigError as a node process would.
  static TestNode from_file(const std::filesystem::path& topology, std::string node,
                            const TestOptions& options = {});
  static TestNode from_yaml(std::string_view yaml, std::string node,
                            const TestOptions& options = {}, const std::string& name = "test.yaml");
  static TestNode from_topology(Topology topology, std::string node,
                                const TestOptions& options = {});

  TestNode(TestNode&&) noexcept;
  TestNode& operator=(TestNode&&) noexcept;
  ~TestNode();

  // The node under test: register handlers, timers and callbacks on it as main() would.
  // run() is not for tests (it would wait for signals): start() and stop() stand for it.
  Node& node() noexcept { return *node_; }

  // Like run() once the node is ready: checks that every input has a handler (ConfigError),
  // then runs the on_ready callbacks. emit() is refused before, as in a process.
  void start();
  // Like a stop signal: runs the on_stop callbacks. Retries still pending are abandoned
  // (Outcome::kRetrying, not acknowledged: their producer would send them to another replica).
  // Nothing can be sent afterwards.
  void stop();
  bool started() const noexcept;
  // Whether the node asked to stop (node.stop(), e.g. a job that finished its work).
  bool stop_requested() const noexcept;

  // Sends `value` to an input port, as a producer would, and runs the handler at once. The
  // reference stays valid for the TestNode's life and follows later retries.
  template <class T>
  const Delivery& send(std::string_view port, const T& value, const SendOptions& options = {});
  // The payload as msgpack bytes.
  const Delivery& send_raw(std::string_view port, std::span<const std::byte> payload,
                           std::string_view type, const SendOptions& options = {});
  // A whole envelope frame as it would arrive from the network: hand-made, garbage, or another
  // TestNode's Emitted::frame (to chain nodes).
  const Delivery& send_frame(std::string_view port, std::span<const std::byte> frame);
  // Every message sent so far, in order.
  const std::deque<Delivery>& deliveries() const noexcept;

  // The test's clock: it starts at the real steady_clock time of construction and moves only
  // here. advance() runs, in time order, every timer and handler retry that falls due within
  // `d`, each at its own time (node.now() tells it); a zero-period timer runs once per
  // millisecond. advance(0ms) runs what is due now.
  void advance(std::chrono::milliseconds d);
  Clock::time_point now() const noexcept;
  // When the next timer or retry is due, if any.
  std::optional<Clock::time_point> next_due() const;

  // What the node emitted on an output port since the start or the last clear(), in order.
  // Unknown ports are ConfigErrors.
  const std::vector<Emitted>& emitted(std::string_view port) const;
  template <class T>
  std::vector<T> emitted_as(std::string_view port) const;
  // Dead letters of messages from an input port (its channel's dead_letter channel).
  const std::vector<Emitted>& dead_letters(std::string_view input_port) const;
  void clear_emitted();

  // ---- request/reply ----
  // Sends a request to a request input port the node serves (Node::on_request) and runs the
  // handler at once. The reference stays valid for the TestNode's life and follows a later
  // answer.
  template <class Req>
  const ServedRequest& request(std::string_view port, const Req& value,
                               const SendOptions& options = {});
  const ServedRequest& request_raw(std::string_view port, std::span<const std::byte> payload,
                                   std::string_view type, const SendOptions& options = {});

  // The requests the node sent on a request output port, in order (cleared by clear_emitted()).
  const std::deque<SentRequest>& sent_requests(std::string_view port) const;
  // Answers a pending request: the node's on_reply runs now. ConfigError for a request that is
  // not pending (answered, timed out) or not this node's.
  template <class Rep>
  void reply(const SentRequest& request, const Rep& value);
  void reply_raw(const SentRequest& request, std::span<const std::byte> payload,
                 std::string_view type);
  void fail_request(const SentRequest& request, std::string_view error);
  // Answers every request sent on `port` from now on with fn(const Req&) -> Rep, as a serving
  // node would: a request that does not convert to Req, or an fn that throws, fails it. The
  // answer reaches on_reply once the node's code that sent the request has returned (as in a
  // process, never from inside request()); a reply's own requests are answered in turn.
  template <class Req, class Rep, class F>
  void serve(std::string_view port, F fn);

  const NodeCounters& counters() const noexcept { return node_->counters(); }
  // The counters of one channel (zeroes for a channel the node does not use).
  const ChannelCounters& counters(std::string_view channel) const;
  // The value of a counter or gauge the node declared (Node::counter, Node::gauge). A name it
  // has not declared is a ConfigError listing those it has (not 0: a misspelt name must not pass).
  std::uint64_t counter(std::string_view name) const;
  std::int64_t gauge(std::string_view name) const;

 private:
  // fn answers one request: the reply's type and msgpack payload; a throw fails the request.
  using ServerFn =
      std::function<std::pair<std::string, std::vector<std::byte>>(const SentRequest&)>;
  void set_server(std::string_view port, ServerFn fn);

  TestNode(std::unique_ptr<Node> node, detail::TestEngine* engine);
  static TestNode make(NodeOptions options);

  std::unique_ptr<Node> node_;
  detail::TestEngine* engine_;  // owned by node_
};

// ---- templates ---------------------------------------------------------------------------

}  // namespace testing
namespace detail {
// The payload of `env` converted to T; PayloadError naming `what` (e.g. "emitted payload on port
// 'out'") when it is not msgpack or does not convert.
template <class T>
T payload_as(const Envelope& env, const std::string& what) {
  try {
    const msgpack::object_handle h =
        msgpack::unpack(reinterpret_cast<const char*>(env.payload.data()), env.payload.size());
    return h.get().as<T>();
  } catch (const msgpack::type_error&) {
    throw PayloadError(DecodeStatus{DecodeErrc::kTypeMismatch, "payload", 0},
                       what + " does not convert to " + std::string(type_name<T>()));
  } catch (const msgpack::unpack_error& e) {
    throw PayloadError(DecodeStatus{DecodeErrc::kBadPayload, "payload", 0},
                       what + " is not msgpack: " + e.what());
  }
}
}  // namespace detail
namespace testing {

template <class T>
T Emitted::as() const {
  return detail::payload_as<T>(envelope, "emitted payload on port '" + port + "'");
}

template <class T>
Reply<T> ServedRequest::reply_as() const {
  if (!answered) {
    throw Error("request " + std::to_string(seq) + " on port '" + port +
                "' has not been answered yet (its handler kept the Responder: run what answers "
                "it, e.g. advance the clock)");
  }
  if (!error.empty()) return Reply<T>::failure(error);
  try {
    return Reply<T>::success(detail::payload_as<T>(reply, "the reply (type '" + reply.type + "')"));
  } catch (const PayloadError& e) {
    return Reply<T>::failure(e.what());
  }
}

template <class T>
T SentRequest::as() const {
  return detail::payload_as<T>(envelope,
                               "request on port '" + port + "' (type '" + envelope.type + "')");
}

template <class Req>
const ServedRequest& TestNode::request(std::string_view port, const Req& value,
                                       const SendOptions& options) {
  msgpack::sbuffer payload;
  msgpack::pack(payload, value);
  return request_raw(port, std::as_bytes(std::span(payload.data(), payload.size())),
                     options.type.empty() ? type_name<Req>() : std::string_view(options.type),
                     options);
}

template <class Rep>
void TestNode::reply(const SentRequest& request, const Rep& value) {
  msgpack::sbuffer payload;
  msgpack::pack(payload, value);
  reply_raw(request, std::as_bytes(std::span(payload.data(), payload.size())), type_name<Rep>());
}

template <class Req, class Rep, class F>
void TestNode::serve(std::string_view port, F fn) {
  static_assert(std::is_invocable_r_v<Rep, F&, const Req&>,
                "serve(): fn must be callable as Rep fn(const Req&)");
  set_server(port, [fn = std::move(fn)](const SentRequest& r) mutable {
    const Rep value = fn(r.as<Req>());
    msgpack::sbuffer payload;
    msgpack::pack(payload, value);
    return std::make_pair(std::string(type_name<Rep>()),
                          std::vector<std::byte>(
                              reinterpret_cast<const std::byte*>(payload.data()),
                              reinterpret_cast<const std::byte*>(payload.data()) + payload.size()));
  });
}

template <class T>
const Delivery& TestNode::send(std::string_view port, const T& value, const SendOptions& options) {
  msgpack::sbuffer payload;
  msgpack::pack(payload, value);
  return send_raw(port, std::as_bytes(std::span(payload.data(), payload.size())),
                  options.type.empty() ? type_name<T>() : std::string_view(options.type), options);
}

template <class T>
std::vector<T> TestNode::emitted_as(std::string_view port) const {
  std::vector<T> out;
  for (const Emitted& e : emitted(port))
    out.push_back(e.as<T>());
  return out;
}

}  // namespace testing
}  // namespace brook
