// The event loop behind brook::Node: owns the ZeroMQ context, the reactor and every port, and
// wires them: receivers to handlers through the delivery tracker, handlers' output to the output
// ports, directory events to both. Handlers run on the thread that called run().
#pragma once

#include <brook/ids.hpp>
#include <brook/node.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>
#include <zmq.hpp>

#include "runtime/delivery_tracker.hpp"
#include "runtime/directory_session.hpp"
#include "runtime/node_engine.hpp"
#include "runtime/output_port.hpp"
#include "runtime/reactor.hpp"
#include "runtime/receiver.hpp"
#include "runtime/request_output.hpp"
#include "runtime/request_server.hpp"
#include "runtime/state_store.hpp"
#include "security/security.hpp"
#include "security/zap_handler.hpp"
#include "tracing/tracer.hpp"
#include "util/lifecycle.hpp"
#include "util/sd_notify.hpp"

namespace brook {

class NodeRuntime final : public detail::NodeEngine, public detail::DirectorySession::Listener {
 public:
  explicit NodeRuntime(NodeOptions options);
  ~NodeRuntime() override;

  // ---- NodeEngine ----
  void set_handler(std::string_view port, std::function<void(const Message&)> fn) override;
  std::size_t output_index(std::string_view port) const override;
  EnvelopeEncoder& encoder() noexcept override { return encoder_; }
  OutgoingEnvelope begin_emit(std::size_t output, std::string_view type,
                              const EmitOptions& o) override;
  void finish_emit(std::size_t output, std::span<const std::byte> frame,
                   const EmitOptions& o) override;
  TimerId add_timer(std::chrono::milliseconds delay, std::chrono::milliseconds period,
                    bool periodic, std::function<void()> fn) override;
  void cancel_timer(TimerId id) override;
  void post(std::function<void()> fn) override { reactor_.post(std::move(fn)); }
  WatchId watch_fd(int fd, short events, std::function<void(short)> fn) override;
  WatchId watch_socket(void* socket, short events, std::function<void(short)> fn) override;
  void unwatch(WatchId id) override;
  OutgoingEnvelope begin_request(std::string_view port, std::string_view type) override;
  void finish_request(std::string_view port, std::span<const std::byte> frame,
                      std::optional<std::chrono::milliseconds> timeout, ReplyFn on_reply) override;
  void set_request_handler(std::string_view port, RequestFn fn) override;
  detail::StateTable& state_table(std::string_view name) override;
  std::uint64_t hold_current() override;
  void release_hold(std::uint64_t token) override;
  void give_back_hold(std::uint64_t token) override;
  int run() override;
  void stop() noexcept override { stop_.request_stop(); }
  bool ready() const noexcept override { return ready_; }
  Clock::time_point now() const override { return Clock::now(); }

  // ---- DirectorySession::Listener ----
  void entry_added(const DirectoryEntry& e) override;
  void entry_removed(const DirectoryEntry& e) override;
  void registered(const std::string& directory_endpoint) override;
  NodeCounters heartbeat_counters() override;
  void name_taken(const std::string& why) override;

 private:
  // The handler call in progress, if any: its message (emits continue its trace) and, while
  // `staging`, where its emits wait until it returns (transactional output).
  struct Handling {
    const EnvelopeView& env;
    detail::DeliveryTracker::Attempt* attempt;  // null: the runtime's own emit (dead letter)
    bool staging;
    SpanId span{};  // of a sampled message: this handling's span, its emits' parent
  };
  struct Staged {
    std::size_t output;
    std::uint64_t seq;
    std::uint64_t key_hash;
    zmq::message_t msg;
    std::function<void()> on_acknowledged;  // EmitOptions::on_acknowledged, if any
  };
  // An emitted message whose EmitOptions::on_acknowledged waits for its consumer groups.
  struct Receipt {
    std::size_t acks_left;
    std::function<void()> fn;
  };

  void check_loop_thread(const char* what) const;
  void make_inputs();
  void make_outputs();
  void make_dead_letter_outputs();
  void add_output(const PortSpec& port, const ChannelSpec& ch, std::string producer,
                  std::unique_ptr<detail::OutputJournal> journal);
  void start_directory_sessions();
  void watch_framework_sockets();
  // Listens again when an input's accept guard stopped it (out of descriptors).
  // `socket_reader`: the guarded socket's reader, rechecked after a rebind (0: none needs it,
  // as one with recheck_always).
  void watch_accept_guard(detail::AcceptGuard& guard, detail::Reactor::ReaderId socket_reader = 0);
  void deliver(std::size_t output, zmq::message_t& msg, std::uint64_t seq, std::uint64_t key_hash,
               detail::DeliveryTracker::Attempt* attempt, bool journaled = false,
               std::function<void()> on_acknowledged = {});
  // A consumer group acknowledged message `seq` of output `output`: its receipt, if any.
  void receipt_acked(std::size_t output, std::uint64_t seq);
  // Calls the handler with its emits staged; delivers them if it returned, discards them if it
  // threw. `first_of_batch`: the call is timed for the latency histogram (HandlerTiming).
  detail::HandlerOutcome call_handler(detail::Receiver& in, const Message& message,
                                      detail::DeliveryTracker::Attempt& attempt,
                                      bool first_of_batch);
  bool dead_letter(detail::DeliveryTracker::Attempt& a, std::uint32_t attempts,
                   const std::string& error);

  // ---- the state store (node_state.cpp) ----
  std::filesystem::path state_file() const;
  // Opens the store, seeds the inputs' de-duplication from its inbox and adopts the journals
  // of the durable outputs made so far.
  void open_state_store();
  // A store opened at start that the program never asked for a table of is closed at run().
  void retire_unused_state_store();
  // What the store's outbox mark says of a durable output's journal: records beyond it were
  // never committed (discarded); a journal without a mark gets one.
  void adopt_journal(const std::string& port, detail::OutputJournal& journal);
  // A handled at-least-once message waits for the pass's commit to be acknowledged.
  void hold_for_commit(detail::Receiver& in, const EnvelopeView& env, const std::string& peer);
  // Commits what this loop pass changed, handled and emitted (outputs journaled first), then
  // sends the outputs and the acknowledgements; abort_pass() undoes all of it when that fails.
  void commit_pass();
  void abort_pass(const std::string& why);
  bool pass_open() const noexcept;

  detail::RequestOutput& requester(std::string_view port) const;
  void serve_request(detail::RequestServer& server, const RequestFn& fn, const EnvelopeView& env,
                     std::shared_ptr<detail::ReplySlot> slot);
  void watch_request_ports();

  // ---- tracing (node_tracing.cpp) ----
  void start_tracing();
  // The trace context of a message emitted now: the handled message's trace continued (parent:
  // the handling's span), else a new trace, sampled by the tracer's probability (then its emit
  // is recorded as the trace's root span).
  // `given`: EmitOptions::trace, used as it is.
  void trace_context(OutgoingEnvelope& env, const std::optional<TraceContext>& given);
  // The span of a handling of a sampled message, once its outcome is known.
  void record_handling(const EnvelopeView& env, const SpanId& span, std::int64_t start_ns,
                       Clock::time_point started, detail::SpanOutcome outcome,
                       const std::string& error);

  // Reads and dispatches a batch; false when it stopped at the batch limit with more waiting.
  [[nodiscard]] bool drain_input(detail::Receiver& in);
  // `attempt` > 0: a retry of a message whose handler threw (skips admission).
  // `first_of_batch`: the first message drained in a loop pass (or a retry): always timed.
  // `env`: what the frame is decoded into, kept by the caller across a drain (decode_envelope
  // writes every field), since a fresh view's zeroing cost ~20 ns a message (docs/bench.md).
  void dispatch(detail::Receiver& in, zmq::message_t& frame, const std::string& peer,
                EnvelopeView& env, std::uint32_t attempt, bool first_of_batch = true);
  void decode_error(detail::Receiver& in, const zmq::message_t& frame, const std::string& why);
  // An envelope of another channel: given back to its producer where it can be (at-least-once),
  // else a decode error.
  void misrouted(detail::Receiver& in, const zmq::message_t& frame, const EnvelopeView& env,
                 const std::string& peer);
  // A producer refused this tap (brook tap): it would miss that producer's messages, so it
  // stops and run() returns 1.
  void tap_refused(const std::string& why);
  // The handler threw brook::Declined on an at-least-once input: counted and logged, no ack.
  void declined(detail::Receiver& in, const EnvelopeView& env, const std::string& why);
  // Runs control work only (never a handler) until done() or the deadline.
  bool wait_until(const std::function<bool()>& done, Clock::time_point deadline);
  void on_stop_fd();
  void check_ready(Clock::time_point now);
  void flush_outputs();
  void shutdown();
  std::string stop_report() const;  // the line report_stop() writes for `brook up`
  void drain_inputs_until_quiet(Clock::time_point deadline, int reads_at_stop);
  // Graceful stop, first step: at-least-once producers are told to send nothing new; what
  // they sent is handled and acknowledged before the node unregisters (so they re-send nothing).
  void settle_acknowledged_inputs(Clock::time_point deadline, int reads_at_stop);
  void close_all() noexcept;
  std::string view_key(const DirectoryEntry& e) const;

  std::chrono::milliseconds ready_timeout_;
  std::chrono::milliseconds drain_timeout_;
  std::chrono::milliseconds linger_;

  detail::Reactor reactor_;  // before every port: they remove themselves from it
  Security security_;
  zmq::context_t context_;
  std::unique_ptr<ZapHandler> zap_;  // with CURVE: bound before any input, closed before context_
  StopSignal stop_;
  std::vector<std::unique_ptr<detail::Receiver>> inputs_;
  std::vector<std::unique_ptr<detail::OutputPort>> outputs_;
  std::vector<std::unique_ptr<detail::RequestServer>> servers_;     // request inputs
  std::vector<RequestFn> request_handlers_;                         // of servers_, same order
  std::vector<std::unique_ptr<detail::RequestOutput>> requesters_;  // request outputs
  std::vector<detail::Reactor::ReaderId> server_readers_;
  std::vector<std::unique_ptr<detail::DirectorySession>> sessions_;
  std::map<std::string, int> view_;  // merged directory entries across sessions (refcounts)
  std::map<std::string, std::size_t> dead_letter_out_;  // input channel -> output index
  detail::DeliveryTracker tracker_;
  // Per output, by seq; empty (and never looked into) for outputs without receipts.
  std::vector<std::unordered_map<std::uint64_t, Receipt>> receipts_;

  EnvelopeEncoder encoder_;
  PayloadDecoder payload_decoder_;
  TraceIdGenerator trace_ids_;
  std::unique_ptr<detail::Tracer> tracer_;  // null: tracing sends spans nowhere
  LogRateLimiter decode_log_;
  LogRateLimiter misrouted_log_;
  LogRateLimiter declined_log_{std::chrono::seconds(10)};
  LogRateLimiter callback_log_;
  detail::WaitFn wait_fn_;
  Handling* handling_ = nullptr;
  std::vector<Staged> staged_;  // of the handler call in progress; reused

  // With a state store: what the loop pass handled and emitted, committed at its end.
  struct Uncommitted {
    detail::Receiver* in;
    std::string peer;
    std::string producer;
    std::uint64_t seq;
  };
  std::unique_ptr<detail::StateStore> state_;
  bool state_used_ = false;  // node.state() was called
  std::vector<Staged> pass_output_;
  std::vector<Uncommitted> pass_input_;
  std::vector<detail::OutputJournal::Record> journal_batch_;  // commit_pass()'s; reused
  std::size_t pass_callback_emits_ = 0;  // of pass_output_, by timers and callbacks
  LogRateLimiter commit_log_{std::chrono::seconds(10)};
  std::string peer_;  // of the message being read; reused

  std::thread::id loop_thread_{};
  bool running_ = false;
  bool ready_ = false;
  bool registered_once_ = false;
  int exit_code_ = 0;  // run()'s result after a clean shutdown: 1 when the node gave up its name
                       // or a producer refused it as a tap
  bool stopping_ = false;
  // The systemd watchdog and the health file (BROOK_HEALTH_FILE), refreshed each heartbeat.
  std::optional<Liveness> liveness_;
  int stop_reads_ = 0;
  Clock::time_point started_{};
  Clock::time_point last_input_{};
  Clock::time_point last_acknowledged_input_{};  // while stopping: a message on such an input
  Clock::time_point next_unregistered_warn_{};
};

}  // namespace brook
