// The engine behind brook::testing::TestNode: a NodeEngine whose inputs are fed by the test and
// whose outputs are captured, on a clock the test moves. Handling follows the node process
// (runtime/handling.hpp): outcomes, retries, dead letters, de-duplication and acknowledgement.
#pragma once

#include <atomic>
#include <brook/ids.hpp>
#include <brook/testing.hpp>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "runtime/dedupe_window.hpp"
#include "runtime/handling.hpp"
#include "runtime/node_engine.hpp"
#include "runtime/state_store.hpp"
#include "runtime/timer_queue.hpp"

namespace brook::detail {

class TestEngine final : public NodeEngine {
 public:
  explicit TestEngine(NodeOptions options);
  ~TestEngine() override { detach_holds(); }

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
  void cancel_timer(TimerId id) override { timers_.cancel(id); }
  void post(std::function<void()> fn) override;
  WatchId watch_fd(int fd, short events, std::function<void(short)> fn) override;
  WatchId watch_socket(void* socket, short events, std::function<void(short)> fn) override;
  void unwatch(WatchId id) override { watches_.erase(id); }
  OutgoingEnvelope begin_request(std::string_view port, std::string_view type) override;
  void finish_request(std::string_view port, std::span<const std::byte> frame,
                      std::optional<std::chrono::milliseconds> timeout, ReplyFn on_reply) override;
  void set_request_handler(std::string_view port, RequestFn fn) override;
  // An in-memory store with the same transactions as a process's: a handler that throws
  // changes nothing.
  StateTable& state_table(std::string_view name) override;
  // Holds (test_holds.cpp): the token is the delivery's index + 1.
  std::uint64_t hold_current() override;
  void release_hold(std::uint64_t token) override;
  void give_back_hold(std::uint64_t token) override;
  int run() override;
  void stop() noexcept override { stop_requested_ = true; }
  bool ready() const noexcept override { return started_; }
  Clock::time_point now() const override { return now_; }

  // ---- the test's side ----
  void start();
  void shutdown();
  bool stop_requested() const noexcept { return stop_requested_; }
  const testing::Delivery& send_raw(std::string_view port, std::span<const std::byte> payload,
                                    std::string_view type, const testing::SendOptions& options);
  const testing::Delivery& send_frame(std::string_view port, std::span<const std::byte> frame);
  const std::deque<testing::Delivery>& deliveries() const noexcept { return deliveries_; }
  void advance(std::chrono::milliseconds d);
  std::optional<Clock::time_point> next_due() const;
  const std::vector<testing::Emitted>& emitted(std::string_view port) const;
  const std::vector<testing::Emitted>& dead_letters(std::string_view input_port) const;
  void clear_emitted();
  const ChannelCounters& channel_counters(std::string_view channel) const;
  // Request/reply (test_requests.cpp).
  using ServerFn =
      std::function<std::pair<std::string, std::vector<std::byte>>(const testing::SentRequest&)>;
  const testing::ServedRequest& request_raw(std::string_view port,
                                            std::span<const std::byte> payload,
                                            std::string_view type,
                                            const testing::SendOptions& options);
  const std::deque<testing::SentRequest>& sent_requests(std::string_view port) const;
  void reply_raw(const testing::SentRequest& request, std::string_view type,
                 std::span<const std::byte> payload);
  void fail_request(const testing::SentRequest& request, std::string_view error);
  void set_server(std::string_view port, ServerFn fn);

 private:
  using SeqByProducer = std::map<std::string, std::uint64_t, std::less<>>;
  struct Input {
    std::string port;
    const ChannelSpec* channel;
    Limits limits;
    ChannelCounters* counters;
    std::function<void(const Message&)> handler;
    std::map<std::string, DedupeWindow, std::less<>> seen;  // at-least-once, by producer
    std::set<std::pair<std::string, std::uint64_t>> retrying;
    SeqByProducer next_seq;  // send_raw's, by producer
    std::size_t dead_letter_output = kNone;
  };
  struct Output {
    std::string port;
    const ChannelSpec* channel;
    ChannelCounters* counters;
    std::uint64_t seq = 0;
    std::vector<testing::Emitted> captured;
  };
  struct Retry {
    std::size_t input;
    std::vector<std::byte> frame;
    std::uint32_t attempt;
    std::size_t delivery;  // index into deliveries_
  };
  // A request input port (Node::on_request), served by the node for the test.
  struct Server {
    std::string port;
    const ChannelSpec* channel;
    Limits limits;
    ChannelCounters* counters;
    RequestFn handler;
    SeqByProducer next_seq;     // request_raw's, by producer
    std::uint64_t replies = 0;  // the seq of its last reply
  };
  // A request output port (Node::request), answered by the test.
  struct Caller {
    std::string port;
    const ChannelSpec* channel;
    ChannelCounters* counters;
    std::uint64_t seq = 0;
    std::deque<testing::SentRequest> sent;
    ServerFn server;  // set by serve(): answers every request
  };
  struct Pending {
    ReplyFn on_reply;
    testing::SentRequest* record;  // in Caller::sent (a deque: stable)
  };
  using RequestKey = std::pair<std::size_t, std::uint64_t>;  // caller, seq
  class ReplySlot;
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

  std::size_t input_index(std::string_view port) const;
  // The frame a test's send or request carries: the options' producer (else `default_producer`)
  // and seq (else that producer's next on `next_seq`), key, headers, a new trace.
  std::vector<std::byte> encode_sent(const ChannelSpec& channel, SeqByProducer& next_seq,
                                     std::string_view default_producer,
                                     std::span<const std::byte> payload, std::string_view type,
                                     const testing::SendOptions& options);
  void check_open(const char* what) const;
  // Handles one frame for deliveries_[delivery]: the first attempt (attempt 0) or a retry.
  void dispatch(std::size_t input, std::span<const std::byte> frame, std::uint32_t attempt,
                std::size_t delivery);
  void failed(std::size_t input, const EnvelopeView& env, std::span<const std::byte> frame,
              std::uint32_t attempt, const std::string& error, std::size_t delivery);
  // Sends the message to the input channel's dead-letter channel; false (logged) if it cannot.
  bool dead_letter(Input& in, const EnvelopeView& env, std::uint32_t attempts,
                   const std::string& error);
  void acknowledge(Input& in, const MessageId& id, testing::Delivery& d);
  void run_due_retries();
  // Posted functions, then one zero-timeout poll of the watched fds and sockets.
  void run_posted_and_watches();
  HandlerOutcome call_in_transaction(Input& in, const Message& message);
  std::size_t server_index(std::string_view port) const;
  std::size_t caller_index(std::string_view port) const;
  void serve_frame(Server& server, std::span<const std::byte> frame, std::size_t served);
  // A ReplySlot's answer to served_[served]: a reply (`error` empty) or a failure.
  void answer_served(std::size_t served, std::string_view type, std::span<const std::byte> payload,
                     std::optional<std::string_view> error);
  // Replies to a pending request of the node (reply_raw without answer_served_requests()).
  void deliver_reply(RequestKey key, std::string_view type, std::span<const std::byte> payload);
  // Ends a pending request of the node: on_reply runs with the reply (null: failed with `error`).
  void complete(RequestKey key, const EnvelopeView* reply, const std::string& error,
                testing::SentRequest::State state);
  RequestKey pending_key(const testing::SentRequest& request, const char* what) const;
  void expire_requests();
  // Runs the answers of serve() functions queued by requests sent meanwhile.
  void answer_served_requests();

  std::vector<Input> inputs_;
  std::vector<Output> outputs_;
  std::vector<Server> servers_;
  std::vector<Caller> callers_;
  std::deque<testing::ServedRequest> served_;
  std::map<RequestKey, Pending> pending_;
  std::multimap<Clock::time_point, RequestKey> request_deadlines_;
  std::deque<RequestKey> to_serve_;  // requests a serve() function answers next
  bool serving_ = false;             // answer_served_requests() runs
  EnvelopeEncoder reply_encoder_;
  // Expires when the engine is gone, so that a Responder kept beyond it answers nothing.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  std::deque<testing::Delivery> deliveries_;
  std::multimap<Clock::time_point, Retry> retries_;
  TimerQueue timers_;
  RetryBackoff backoff_;
  EnvelopeEncoder encoder_;
  EnvelopeEncoder send_encoder_;
  PayloadDecoder payload_decoder_;
  TraceIdGenerator trace_ids_;
  Clock::time_point now_;
  const EnvelopeView* handling_ = nullptr;  // the message being handled: emits continue its trace
  std::size_t handling_delivery_ = kNone;   // and its delivery
  // Holds of a delivery, and the holds released while handling it (acknowledged with it).
  struct Holds {
    std::size_t input = 0;
    std::size_t count = 0;
    bool given_back = false;  // during its own handler call
    std::vector<std::size_t> riders;
  };
  std::map<std::size_t, Holds> holds_;  // by delivery
  // After delivery `delivery`'s handler returned: held, or acknowledged with its riders.
  void settle_holds(std::size_t delivery, bool acknowledged);
  void end_hold(std::size_t delivery);
  void give_back_delivery(std::size_t delivery);
  bool staging_ = false;  // a handler runs: its emits wait until it returns
  std::unique_ptr<StateStore> state_;
  std::vector<std::pair<std::size_t, testing::Emitted>> staged_;
  std::vector<std::function<void()>> staged_receipts_;  // their EmitOptions::on_acknowledged
  struct Watch {
    int fd;
    void* socket;
    short events;
    std::function<void(short)> fn;
  };
  std::map<WatchId, Watch> watches_;
  WatchId next_watch_ = 1;
  std::mutex post_mutex_;
  std::vector<std::function<void()>> posted_;  // guarded by post_mutex_
  bool started_ = false;
  bool stopped_ = false;
  std::atomic<bool> stop_requested_{false};
};

}  // namespace brook::detail
