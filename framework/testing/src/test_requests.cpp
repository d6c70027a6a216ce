// Request/reply in brook::testing: the test sends requests to the ports the node serves
// (request_raw) and answers the requests the node sends (reply_raw, fail_request, set_server),
// with timeouts on the test's clock. As in a process (runtime/request_*.cpp): a request is
// answered once, a handler that throws fails it, a served request's emits leave at once, a reply
// never reaches on_reply from inside request().
#include <brook/log.hpp>

#include "runtime/request_wire.hpp"
#include "test_engine.hpp"

namespace brook::detail {

namespace {
constexpr std::string_view kDefaultCaller = "caller.0@test";
constexpr std::string_view kServingProducer = "server.0@test";
// Bounds answer_served_requests(): replies whose callbacks send requests a serve() function
// answers again and again would otherwise never end.
constexpr std::size_t kMaxServedInARow = 100000;
}  // namespace

// The Responder's way back: answers served_[index] once, while the engine lives.
class TestEngine::ReplySlot final : public detail::ReplySlot {
 public:
  ReplySlot(TestEngine& engine, std::size_t served)
      : engine_(&engine), alive_(engine.alive_), served_(served) {}

  void reply(std::string_view type, std::span<const std::byte> payload) override {
    if (first()) engine_->answer_served(served_, type, payload, std::nullopt);
  }
  void fail(std::string_view error) override {
    if (first()) engine_->answer_served(served_, {}, {}, error.empty() ? "failed" : error);
  }
  bool replied() const noexcept override { return replied_; }

 private:
  bool first() {
    if (replied_ || alive_.expired()) return false;
    replied_ = true;
    return true;
  }

  TestEngine* engine_;
  std::weak_ptr<int> alive_;
  std::size_t served_;
  bool replied_ = false;
};

// ---- the ports the node serves ---------------------------------------------------------------

void TestEngine::set_request_handler(std::string_view port, RequestFn fn) {
  if (started_) throw ConfigError("handlers must be registered before run()");
  Server& s = servers_[server_index(port)];
  if (s.handler) throw ConfigError("input port '" + std::string(port) + "' already has a handler");
  s.handler = std::move(fn);
}

std::size_t TestEngine::server_index(std::string_view port) const {
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    if (servers_[i].port == port) return i;
  }
  for (const Input& in : inputs_) {
    if (in.port == port) {
      throw ConfigError("input port '" + std::string(port) + "' reads " +
                        std::string(to_string(in.channel->pattern)) + " channel '" +
                        in.channel->name + "', not a request channel: use send()");
    }
  }
  no_input_port(port);
}

const testing::ServedRequest& TestEngine::request_raw(std::string_view port,
                                                      std::span<const std::byte> payload,
                                                      std::string_view type,
                                                      const testing::SendOptions& options) {
  check_open("request()");
  Server& s = servers_[server_index(port)];
  const std::vector<std::byte> frame =
      encode_sent(*s.channel, s.next_seq, kDefaultCaller, payload, type, options);
  EnvelopeView env;
  (void)decode_envelope(frame, Limits{}, env);  // just encoded: only its seq is needed
  testing::ServedRequest& r = served_.emplace_back();
  r.port = std::string(port);
  r.seq = env.id.seq;
  const std::size_t index = served_.size() - 1;
  serve_frame(s, frame, index);
  answer_served_requests();
  return served_[index];
}

void TestEngine::serve_frame(Server& s, std::span<const std::byte> frame, std::size_t served) {
  EnvelopeView env;
  if (const DecodeStatus st = decode_envelope(frame, s.limits, env); !st) {
    // A process drops it (no seq to answer): the caller times out.
    ++s.counters->decode_errors;
    served_[served].answered = true;
    served_[served].error = "malformed request, dropped: " + st.describe();
    return;
  }
  ++s.counters->received;
  auto slot = std::make_shared<ReplySlot>(*this, served);
  const EnvelopeView* outer = handling_;
  handling_ = &env;  // emits continue the request's trace and leave at once
  try {
    s.handler(make_message(env, s.port, payload_decoder_), slot);
  } catch (const std::exception& e) {
    ++s.counters->handler_errors;
    slot->fail(e.what());
  }
  handling_ = outer;
}

void TestEngine::answer_served(std::size_t served, std::string_view type,
                               std::span<const std::byte> payload,
                               std::optional<std::string_view> error) {
  testing::ServedRequest& r = served_[served];
  Server& s = servers_[server_index(r.port)];
  r.answered = true;
  if (error) {
    r.error = std::string(error->substr(0, 4096));  // as a reply-error header carries it
  } else {
    const std::string seq = std::to_string(r.seq);
    const Header headers[1] = {{kReplyToHeader, seq}};
    OutgoingEnvelope env;
    env.producer = producer_id_;
    env.seq = ++s.replies;
    env.channel = s.channel->name;
    env.type = type;
    env.created_ns = wall_clock_ns();
    env.trace = handling_ != nullptr ? handling_->trace : trace_ids_.next();
    env.headers = headers;
    const std::span<const std::byte> frame = reply_encoder_.encode_raw(env, payload);
    EnvelopeView view;
    if (frame.size() > s.channel->max_message_size) {
      r.error = "the reply (" + std::to_string(frame.size()) +
                " bytes) exceeds the channel's max_message_size";
    } else if (const DecodeStatus st = decode_envelope(frame, s.limits, view); !st) {
      r.error = "the reply cannot be decoded: " + st.describe();
    } else {
      r.reply = Envelope::from_view(view);
    }
  }
  ++s.counters->emitted;
  ++s.counters->sent;
}

// ---- the node's own requests -----------------------------------------------------------------

std::size_t TestEngine::caller_index(std::string_view port) const {
  for (std::size_t i = 0; i < callers_.size(); ++i) {
    if (callers_[i].port == port) return i;
  }
  for (const Output& out : outputs_) {
    if (out.port == port) {
      throw ConfigError("output port '" + std::string(port) + "' writes " +
                        std::string(to_string(out.channel->pattern)) + " channel '" +
                        out.channel->name + "', not a request channel: use node.emit()");
    }
  }
  no_output_port(port);
}

OutgoingEnvelope TestEngine::begin_request(std::string_view port, std::string_view type) {
  if (!started_) {
    throw ConfigError("request() before run(): send requests from on_ready, a handler or a timer");
  }
  const Caller& c = callers_[caller_index(port)];
  return new_envelope(producer_id_, c.seq + 1, c.channel->name, type, EmitOptions{},
                      handling_ != nullptr ? handling_->trace : trace_ids_.next());
}

void TestEngine::finish_request(std::string_view port, std::span<const std::byte> frame,
                                std::optional<std::chrono::milliseconds> timeout,
                                ReplyFn on_reply) {
  const std::size_t index = caller_index(port);
  Caller& c = callers_[index];
  check_frame_size(*c.channel, frame.size());
  std::size_t outstanding = 0;
  for (const auto& [key, p] : pending_)
    outstanding += key.first == index ? 1 : 0;
  if (outstanding >= c.channel->max_pending) {
    ++c.counters->backpressure;
    throw BackpressureError("channel '" + c.channel->name + "': " + std::to_string(outstanding) +
                            " requests are outstanding (max_pending); wait for replies or raise "
                            "max_pending");
  }
  EnvelopeView view;
  if (const DecodeStatus st = decode_envelope(frame, Limits{}, view); !st) {
    throw ConfigError("request on port '" + std::string(port) +
                      "' cannot be decoded: " + st.describe());
  }
  ++c.seq;
  testing::SentRequest& r = c.sent.emplace_back();
  r.port = c.port;
  r.envelope = Envelope::from_view(view);
  r.deadline = now_ + timeout.value_or(c.channel->timeout);
  const RequestKey key{index, view.id.seq};
  pending_[key] = Pending{std::move(on_reply), &r};
  request_deadlines_.emplace(r.deadline, key);
  ++c.counters->emitted;
  ++c.counters->sent;
  ++c.counters->in_flight;
  if (c.server) to_serve_.push_back(key);
}

const std::deque<testing::SentRequest>& TestEngine::sent_requests(std::string_view port) const {
  return callers_[caller_index(port)].sent;
}

TestEngine::RequestKey TestEngine::pending_key(const testing::SentRequest& request,
                                               const char* what) const {
  const RequestKey key{caller_index(request.port), request.envelope.seq};
  const auto it = pending_.find(key);
  if (it == pending_.end() || it->second.record != &request) {
    throw ConfigError(std::string(what) + ": request " + std::to_string(request.envelope.seq) +
                      " on port '" + request.port + "' is " +
                      std::string(testing::to_string(request.state)) +
                      ", not pending (each request is answered once)");
  }
  return key;
}

void TestEngine::reply_raw(const testing::SentRequest& request, std::string_view type,
                           std::span<const std::byte> payload) {
  check_open("reply()");
  deliver_reply(pending_key(request, "reply()"), type, payload);
  answer_served_requests();
}

void TestEngine::deliver_reply(RequestKey key, std::string_view type,
                               std::span<const std::byte> payload) {
  const Caller& c = callers_[key.first];
  const std::string seq = std::to_string(key.second);
  const Header headers[1] = {{kReplyToHeader, seq}};
  OutgoingEnvelope env;
  env.producer = kServingProducer;
  env.seq = key.second;
  env.channel = c.channel->name;
  env.type = type;
  env.created_ns = wall_clock_ns();
  env.trace = pending_.at(key).record->envelope.trace;
  env.headers = headers;
  const std::span<const std::byte> frame = reply_encoder_.encode_raw(env, payload);
  const std::vector<std::byte> owned(frame.begin(), frame.end());
  Limits limits;
  limits.max_message_size = c.channel->max_message_size;
  EnvelopeView view;
  if (const DecodeStatus st = decode_envelope(owned, limits, view); !st) {
    // A process's caller drops such a reply and times out; a test wants to know at once.
    throw ConfigError("reply(): the reply to request " + seq + " on port '" + c.port +
                      "' would be dropped by the node: " + st.describe());
  }
  complete(key, &view, {}, testing::SentRequest::State::kReplied);
}

void TestEngine::fail_request(const testing::SentRequest& request, std::string_view error) {
  check_open("fail_request()");
  const RequestKey key = pending_key(request, "fail_request()");
  complete(key, nullptr, error.empty() ? "failed" : std::string(error),
           testing::SentRequest::State::kFailed);
  answer_served_requests();
}

void TestEngine::set_server(std::string_view port, ServerFn fn) {
  const std::size_t index = caller_index(port);
  callers_[index].server = std::move(fn);
  for (const auto& [key, p] : pending_) {
    if (key.first == index) to_serve_.push_back(key);
  }
}

void TestEngine::complete(RequestKey key, const EnvelopeView* reply, const std::string& error,
                          testing::SentRequest::State state) {
  const auto it = pending_.find(key);
  if (it == pending_.end()) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  for (auto d = request_deadlines_.begin(); d != request_deadlines_.end(); ++d) {
    if (d->second == key) {
      request_deadlines_.erase(d);
      break;
    }
  }
  Caller& c = callers_[key.first];
  --c.counters->in_flight;
  if (state == testing::SentRequest::State::kTimedOut) {
    ++c.counters->dropped;
  } else {
    ++c.counters->received;
  }
  p.record->state = state;
  try {
    if (reply == nullptr) {
      p.on_reply(nullptr, error);
    } else {
      const Message m = make_message(*reply, c.port, payload_decoder_);
      p.on_reply(&m, {});
    }
  } catch (const std::exception& e) {
    BROOK_LOG(kError) << "reply callback of request port '" << c.port << "' threw: " << e.what();
  }
}

void TestEngine::expire_requests() {
  while (!request_deadlines_.empty() && request_deadlines_.begin()->first <= now_) {
    const RequestKey key = request_deadlines_.begin()->second;
    const Caller& c = callers_[key.first];
    complete(key, nullptr,
             "no reply within the timeout on channel '" + c.channel->name +
                 "' (brook::testing: the test did not answer it)",
             testing::SentRequest::State::kTimedOut);
  }
}

void TestEngine::answer_served_requests() {
  if (serving_) return;  // a reply callback's own requests: the loop below takes them
  serving_ = true;
  struct Reset {
    bool& flag;
    ~Reset() { flag = false; }
  } reset{serving_};
  for (std::size_t n = 0; !to_serve_.empty(); ++n) {
    if (n == kMaxServedInARow) {
      to_serve_.clear();
      throw ConfigError("serve(): " + std::to_string(kMaxServedInARow) +
                        " requests answered in a row; the node's reply callbacks keep sending "
                        "requests");
    }
    const RequestKey key = to_serve_.front();
    to_serve_.pop_front();
    const auto it = pending_.find(key);
    if (it == pending_.end()) continue;  // answered or timed out meanwhile
    std::pair<std::string, std::vector<std::byte>> answer;
    try {
      answer = callers_[key.first].server(*it->second.record);
    } catch (const std::exception& e) {
      complete(key, nullptr, e.what(), testing::SentRequest::State::kFailed);
      continue;
    }
    deliver_reply(key, answer.first, answer.second);
  }
}

}  // namespace brook::detail

namespace brook::testing {

std::string_view to_string(SentRequest::State s) noexcept {
  switch (s) {
    case SentRequest::State::kPending:
      return "pending";
    case SentRequest::State::kReplied:
      return "replied";
    case SentRequest::State::kFailed:
      return "failed";
    case SentRequest::State::kTimedOut:
      return "timed out";
  }
  return "?";
}

}  // namespace brook::testing
