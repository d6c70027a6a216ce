// The event loop behind brook::Node: owns the ZeroMQ context and every socket, polls them on the
// thread that called run(), and calls handlers on that same thread.
#pragma once

#include <brook/ids.hpp>
#include <brook/node.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>
#include <zmq.hpp>

#include "runtime/directory_session.hpp"
#include "runtime/handling.hpp"
#include "runtime/input_port.hpp"
#include "runtime/node_engine.hpp"
#include "runtime/output_port.hpp"
#include "runtime/socket_poller.hpp"
#include "runtime/timer_queue.hpp"
#include "security/security.hpp"
#include "security/zap_handler.hpp"
#include "util/lifecycle.hpp"

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
  void finish_emit(std::size_t output, std::span<const std::byte> frame) override;
  TimerId add_timer(std::chrono::milliseconds delay, std::chrono::milliseconds period,
                    bool periodic, std::function<void()> fn) override;
  void cancel_timer(TimerId id) override;
  int run() override;
  void stop() noexcept override { stop_.request_stop(); }
  bool ready() const noexcept override { return ready_; }
  Clock::time_point now() const override { return Clock::now(); }

  // ---- DirectorySession::Listener ----
  void entry_added(const DirectoryEntry& e) override;
  void entry_removed(const DirectoryEntry& e) override;
  void registered(const std::string& directory_endpoint) override;
  NodeCounters heartbeat_counters() override;

 private:
  enum class Mode { kNormal, kControlOnly };
  enum class SlotKind {
    kStop,
    kInput,
    kInputMonitor,
    kDirRequest,
    kDirWatch,
    kMonitor,
    kGroupOut,
    kPublisher,
    kZap
  };
  struct Slot {
    SlotKind kind;
    void* target;  // InputPort*, DirectorySession*, GroupSender* or Publisher*
    detail::OutputPort* output;
  };
  struct PollBuffer {
    std::uint64_t generation = 0;
    detail::SocketPoller poller;
    std::vector<Slot> slots;
  };

  void check_loop_thread(const char* what) const;
  void build(PollBuffer& b);
  void recheck_target(PollBuffer& b, const void* target);
  // One poll + dispatch. kControlOnly never reads inputs or runs timers (used while emit()
  // blocks inside a handler, so handlers never nest).
  void iterate(Mode mode, Clock::time_point deadline);
  bool wait_until(const std::function<bool()>& done, Clock::time_point deadline);
  void drain_input(detail::InputPort& in);
  // `attempt` > 0: a retry of a message whose handler threw (skips de-duplication).
  void dispatch(detail::InputPort& in, zmq::message_t& frame, std::uint32_t attempt = 0);
  void decode_error(detail::InputPort& in, const zmq::message_t& frame, const std::string& why);
  void flush_outputs();
  void check_ready(Clock::time_point now);
  void shutdown();
  void close_all() noexcept;
  std::string view_key(const DirectoryEntry& e) const;

  std::chrono::milliseconds ready_timeout_;
  std::chrono::milliseconds drain_timeout_;
  std::chrono::milliseconds linger_;

  Security security_;
  zmq::context_t context_;
  std::unique_ptr<ZapHandler> zap_;  // with CURVE: bound before any input, closed before context_
  StopSignal stop_;
  std::vector<std::unique_ptr<detail::InputPort>> inputs_;
  std::vector<std::unique_ptr<detail::OutputPort>> outputs_;
  std::vector<std::unique_ptr<detail::DirectorySession>> sessions_;
  std::map<std::string, int> view_;  // merged directory entries across sessions (refcounts)
  detail::TimerQueue timers_;

  EnvelopeEncoder encoder_;
  PayloadDecoder payload_decoder_;
  TraceIdGenerator trace_ids_;
  LogRateLimiter decode_log_;
  LogRateLimiter handler_log_;
  detail::WaitFn wait_fn_;

  std::thread::id loop_thread_{};
  bool running_ = false;
  bool ready_ = false;
  bool registered_once_ = false;
  bool more_input_ = false;  // an input stopped at its batch limit: poll without waiting
  bool stopping_ = false;
  int stop_reads_ = 0;
  const EnvelopeView* current_ = nullptr;  // message being handled, for trace propagation
  // Chained acknowledgement (docs/reliability.md): an at-least-once input message whose handler
  // emitted at-least-once messages is acknowledged only once all of those were acknowledged
  // downstream, so a crash of this node never loses the work in between.
  struct Deferred {
    detail::InputPort* in = nullptr;
    std::string peer;
    std::string producer;
    std::uint64_t seq = 0;
    std::size_t outstanding = 0;
    bool handler_done = false;
  };
  void child_done(std::uint64_t token);
  // Handler failures (docs/reliability.md): retried later with backoff, then dead-lettered.
  struct PendingRetry {
    detail::InputPort* in = nullptr;
    zmq::message_t frame;
    std::string peer;
    std::uint32_t attempt = 0;  // the attempt to make
  };
  // What to do with a message whose handler threw `error` on attempt `attempt`: true when it
  // was taken care of (retry scheduled: do not ack yet).
  bool handler_failed(detail::InputPort& in, const EnvelopeView& env, zmq::message_t& frame,
                      std::uint32_t attempt, const std::string& error);
  void dead_letter(detail::InputPort& in, const EnvelopeView& env, std::uint32_t attempts,
                   const std::string& error);
  void run_due_retries(Clock::time_point now);
  std::multimap<Clock::time_point, PendingRetry> retries_;
  std::map<std::string, std::size_t> dead_letter_out_;  // input channel -> output index
  detail::RetryBackoff backoff_;
  detail::InputPort* current_in_ = nullptr;  // reliable input being handled
  std::uint64_t current_token_ = 0;          // its Deferred, once it emitted something
  std::uint64_t next_token_ = 1;
  std::uint64_t emit_key_hash_ = 0;  // set by begin_emit for finish_emit
  std::unordered_map<std::uint64_t, Deferred> deferred_;
  Clock::time_point started_{};
  Clock::time_point last_input_{};
  Clock::time_point next_publisher_flush_{};
  Clock::time_point next_unregistered_warn_{};
  std::uint64_t generation_ = 1;
  PollBuffer buffers_[2];
  PollBuffer* last_polled_ = nullptr;  // a switch between buffers rechecks every socket
};

}  // namespace brook
