// What brook::Node forwards to: NodeRuntime (the event loop of a node process) or
// brook::testing's in-process engine. The base holds what both derive from the command line and
// the topology: the node's spec, params, names and counters, and the callbacks a node registers.
#pragma once

#include <brook/node.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brook::detail {

// The topology a node process runs with: its file, loaded with its --set overrides (or the
// preloaded one). `brook resolve` loads through this too, so it shows what a node would see.
Topology load_node_topology(const NodeOptions& o);
// The spec of node `o.node`, with `o.instance` in range. Throws ConfigError naming the topology
// file and its nodes, or the node's instance range.
const NodeSpec& node_instance_spec(const Topology& t, const NodeOptions& o);

class NodeEngine {
 public:
  using Clock = std::chrono::steady_clock;

  virtual ~NodeEngine() { detach_holds(); }
  NodeEngine(const NodeEngine&) = delete;
  NodeEngine& operator=(const NodeEngine&) = delete;

  virtual void set_handler(std::string_view port, std::function<void(const Message&)> fn) = 0;
  virtual std::size_t output_index(std::string_view port) const = 0;
  virtual EnvelopeEncoder& encoder() noexcept = 0;
  virtual OutgoingEnvelope begin_emit(std::size_t output, std::string_view type,
                                      const EmitOptions& o) = 0;
  // `o`: the options begin_emit was given (the ordering key picks a replica).
  virtual void finish_emit(std::size_t output, std::span<const std::byte> frame,
                           const EmitOptions& o) = 0;
  virtual TimerId add_timer(std::chrono::milliseconds delay, std::chrono::milliseconds period,
                            bool periodic, std::function<void()> fn) = 0;
  virtual void cancel_timer(TimerId id) = 0;
  virtual void post(std::function<void()> fn) = 0;  // thread-safe
  virtual WatchId watch_fd(int fd, short events, std::function<void(short)> fn) = 0;
  virtual WatchId watch_socket(void* socket, short events, std::function<void(short)> fn) = 0;
  virtual void unwatch(WatchId id) = 0;
  // Request/reply (Node::request, Node::on_request).
  using ReplyFn = std::function<void(const Message* reply, std::string_view error)>;
  using RequestFn = std::function<void(const Message& request, std::shared_ptr<ReplySlot> slot)>;
  virtual OutgoingEnvelope begin_request(std::string_view port, std::string_view type) = 0;
  virtual void finish_request(std::string_view port, std::span<const std::byte> frame,
                              std::optional<std::chrono::milliseconds> timeout,
                              ReplyFn on_reply) = 0;
  virtual void set_request_handler(std::string_view port, RequestFn fn) = 0;
  // Node::state: a table of the node's state store, which the engine opens on first use.
  virtual StateTable& state_table(std::string_view name) = 0;
  // Node::hold and brook::Hold: a token for the message being handled (throws brook::Error
  // where it cannot be held), its release, its return to the producer. Stale tokens are ignored.
  virtual std::uint64_t hold_current() = 0;
  virtual void release_hold(std::uint64_t token) = 0;
  virtual void give_back_hold(std::uint64_t token) = 0;
  const std::shared_ptr<HoldLink>& hold_link() const noexcept { return hold_link_; }
  // Ends every Hold's reach into this engine: a derived engine calls it first in its
  // destructor, before the members that Holds captured by handlers would reach are gone.
  void detach_holds() noexcept { hold_link_->engine = nullptr; }
  virtual int run() = 0;
  virtual void stop() noexcept = 0;
  virtual bool ready() const noexcept = 0;
  virtual Clock::time_point now() const = 0;

  void add_on_ready(std::function<void()> fn) { on_ready_.push_back(std::move(fn)); }
  void add_on_stop(std::function<void()> fn) { on_stop_.push_back(std::move(fn)); }

  const Params& params() const noexcept { return params_; }
  const Topology& topology() const noexcept { return topology_; }
  const NodeSpec& spec() const noexcept { return *spec_; }
  const std::string& name() const noexcept { return spec_->name; }
  std::uint32_t instance() const noexcept { return options_.instance; }
  const std::string& instance_name() const noexcept { return instance_name_; }
  const std::string& producer_id() const noexcept { return producer_id_; }
  const OptionValues& own_options() const noexcept { return options_.own; }
  const NodeCounters& counters() const noexcept { return counters_; }

  // Node::counter and Node::gauge: a handle on the value named `name`, declared on first use.
  // ConfigError for a bad name, a name the other kind has, or one beyond kMaxUserMetrics.
  Counter user_counter(std::string_view name);
  Gauge user_gauge(std::string_view name);

  // A Node made from the command line reports a brook::Error from its calls before run() (a
  // port it lacks, a second handler) and exits 2 (node.cpp); once run() was called, errors are
  // the caller's (a handler's, counted by the loop).
  void exit_on_configuration_error() noexcept { exit_on_configuration_error_ = true; }
  void mark_run_called() noexcept { run_called_ = true; }
  bool exits_on_configuration_error() const noexcept {
    return exit_on_configuration_error_ && !run_called_;
  }

 protected:
  // Loads the topology (or takes options.preloaded), finds the node, checks the instance number
  // and sets the log level and identity. Throws TopologyError, ConfigError.
  NodeEngine(NodeOptions options, std::string incarnation);

  static Message make_message(const EnvelopeView& env, std::string_view port,
                              PayloadDecoder& decoder) {
    return Message(env, port, decoder);
  }
  // The ConfigErrors of a port name the node does not have, naming the file and line of the
  // node and listing the ports it has, and of an input left without a handler at run().
  [[noreturn]] void no_input_port(std::string_view port) const;
  [[noreturn]] void no_output_port(std::string_view port) const;
  // The ConfigError, if any, of declaring a new user counter or gauge `name` (`kind`).
  void check_new_user_metric(std::string_view name, std::string_view kind) const;
  [[noreturn]] static void no_handler(const std::string& port, const ChannelSpec& channel);
  // The brook::Errors of Node::hold where it cannot hold: outside a handler, in a node with a
  // state store, on an input that does not acknowledge.
  [[noreturn]] static void hold_outside_handler();
  [[noreturn]] static void hold_with_state();
  [[noreturn]] static void hold_unacknowledged(std::string_view port, const ChannelSpec& channel);
  // The brook::Error of an emit with EmitOptions::on_acknowledged on an output nobody
  // acknowledges (best-effort, pubsub).
  [[noreturn]] static void receipt_unacknowledged(std::string_view port,
                                                  const ChannelSpec& channel);
  // Throws MessageTooLarge for a frame over the channel's max_message_size. Inline: every emit
  // passes here.
  static void check_frame_size(const ChannelSpec& channel, std::size_t size) {
    if (size > channel.max_message_size) frame_too_large(channel, size);
  }
  [[noreturn]] static void frame_too_large(const ChannelSpec& channel, std::size_t size);
  // "file:line:column" of the node in the topology (the file alone for a node built in code).
  std::string where_declared() const;
  // The envelope of a message emitted now: attempt 1, the options' key and headers.
  static OutgoingEnvelope new_envelope(std::string_view producer, std::uint64_t seq,
                                       std::string_view channel, std::string_view type,
                                       const EmitOptions& o, const TraceId& trace);
  // Emits a message whose handler failed for good on `output`, the dead-letter port of its
  // channel `dead_letter`, with dead_letter_headers(). False, and logged, when that fails.
  bool emit_dead_letter(std::size_t output, std::string_view dead_letter, const EnvelopeView& env,
                        std::uint32_t attempts, const std::string& error);
  // Runs on_ready or on_stop callbacks; one that throws is logged and the others still run.
  static void run_callbacks(const std::vector<std::function<void()>>& fns, const char* what);

  NodeOptions options_;
  Topology topology_;
  const NodeSpec* spec_ = nullptr;
  Params params_;
  std::string instance_name_;
  std::string incarnation_;
  std::string producer_id_;
  NodeCounters counters_;
  bool exit_on_configuration_error_ = false;
  bool run_called_ = false;
  std::vector<std::function<void()>> on_ready_;
  std::vector<std::function<void()>> on_stop_;
  std::shared_ptr<HoldLink> hold_link_ = std::make_shared<HoldLink>(HoldLink{this});
};

}  // namespace brook::detail
