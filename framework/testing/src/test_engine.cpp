#include "test_engine.hpp"

#include <algorithm>
#include <brook/log.hpp>
#include <zmq.hpp>

namespace brook::detail {

namespace {
using namespace std::chrono_literals;

constexpr std::string_view kDefaultProducer = "producer.0@test";
const std::vector<testing::Emitted> kNothingEmitted;
const ChannelCounters kZeroCounters;
}  // namespace

TestEngine::TestEngine(NodeOptions options)
    : NodeEngine(std::move(options), "test"), now_(Clock::now()) {
  for (const auto& port : spec_->inputs) {
    const ChannelSpec* ch = topology_.channel(port.channel);
    if (ch->pattern == Pattern::kRequest) {
      Server s{port.port, ch, Limits{}, &counters_.channels[ch->name], {}, {}, 0};
      s.limits.max_message_size = ch->max_message_size;
      servers_.push_back(std::move(s));
      continue;
    }
    Input in{port.port, ch, Limits{}, &counters_.channels[ch->name], {}, {}, {}, {}, kNone};
    in.limits.max_message_size = ch->max_message_size;
    inputs_.push_back(std::move(in));
  }
  for (const auto& port : spec_->outputs) {
    const ChannelSpec* ch = topology_.channel(port.channel);
    if (ch->pattern == Pattern::kRequest) {
      callers_.push_back(Caller{port.port, ch, &counters_.channels[ch->name], 0, {}, {}});
      continue;
    }
    outputs_.push_back(Output{port.port, ch, &counters_.channels[ch->name], 0, {}});
  }
  // As in a process: each input channel naming a dead-letter channel gets an implicit output.
  for (auto& in : inputs_) {
    const ChannelSpec* dl =
        in.channel->dead_letter.empty() ? nullptr : topology_.channel(in.channel->dead_letter);
    if (dl == nullptr) continue;
    const std::string port = "~dead-letter:" + in.channel->name;
    const auto same = std::find_if(outputs_.begin(), outputs_.end(),
                                   [&](const Output& o) { return o.port == port; });
    if (same != outputs_.end()) {
      in.dead_letter_output = static_cast<std::size_t>(same - outputs_.begin());
      continue;
    }
    outputs_.push_back(Output{port, dl, &counters_.channels[dl->name], 0, {}});
    in.dead_letter_output = outputs_.size() - 1;
  }
}

// ---- NodeEngine ------------------------------------------------------------------------------

void TestEngine::set_handler(std::string_view port, std::function<void(const Message&)> fn) {
  if (started_) throw ConfigError("handlers must be registered before run()");
  for (const Server& s : servers_) {
    if (s.port == port) {
      throw ConfigError("input port '" + std::string(port) + "' reads request channel '" +
                        s.channel->name + "': use node.on_request<Req, Rep>()");
    }
  }
  Input& in = inputs_[input_index(port)];
  if (in.handler) {
    throw ConfigError("input port '" + std::string(port) + "' already has a handler");
  }
  in.handler = std::move(fn);
}

std::size_t TestEngine::input_index(std::string_view port) const {
  for (std::size_t i = 0; i < inputs_.size(); ++i) {
    if (inputs_[i].port == port) return i;
  }
  no_input_port(port);
}

std::size_t TestEngine::output_index(std::string_view port) const {
  for (std::size_t i = 0; i < outputs_.size(); ++i) {
    if (outputs_[i].port == port) return i;
  }
  no_output_port(port);
}

OutgoingEnvelope TestEngine::begin_emit(std::size_t output, std::string_view type,
                                        const EmitOptions& o) {
  const Output& out = outputs_[output];
  return new_envelope(producer_id_, out.seq + 1, out.channel->name, type, o,
                      handling_ != nullptr ? handling_->trace : trace_ids_.next());
}

void TestEngine::finish_emit(std::size_t output, std::span<const std::byte> frame,
                             const EmitOptions& o) {
  Output& out = outputs_[output];
  check_frame_size(*out.channel, frame.size());
  if (!started_) throw ConfigError("emit() before run(): emit from on_ready, a handler or a timer");
  if (o.on_acknowledged && !out.channel->reliable()) receipt_unacknowledged(out.port, *out.channel);
  ++out.seq;
  testing::Emitted e;
  e.port = out.port;
  e.frame.assign(frame.begin(), frame.end());
  Limits limits;
  limits.max_message_size = out.channel->max_message_size;
  EnvelopeView view;
  if (const DecodeStatus st = decode_envelope(e.frame, limits, view); st) {
    e.envelope = Envelope::from_view(view);
  } else {
    e.refused = st.describe();
  }
  if (staging_) {
    staged_.emplace_back(output, std::move(e));
    if (o.on_acknowledged) staged_receipts_.push_back(o.on_acknowledged);
    return;
  }
  // Downstream acknowledges at once here; the receipt runs on the loop, at the next advance().
  if (o.on_acknowledged) post(o.on_acknowledged);
  out.captured.push_back(std::move(e));
  ++out.counters->emitted;
  ++out.counters->sent;
}

StateTable& TestEngine::state_table(std::string_view name) {
  if (!state_) state_ = std::make_unique<StateStore>(std::filesystem::path(), FsyncPolicy::kNever);
  return state_->table(name);
}

HandlerOutcome TestEngine::call_in_transaction(Input& in, const Message& message) {
  staged_.clear();
  staged_receipts_.clear();
  staging_ = true;
  if (state_) state_->begin_call();
  const HandlerOutcome outcome = call_handler(in.handler, message);
  if (state_) {
    state_->end_call(outcome.result == HandlerResult::kOk);
    state_->commit();
  }
  staging_ = false;
  if (outcome.result == HandlerResult::kOk) {
    for (auto& [output, e] : staged_) {
      Output& out = outputs_[output];
      out.captured.push_back(std::move(e));
      ++out.counters->emitted;
      ++out.counters->sent;
    }
    for (auto& fn : staged_receipts_)
      post(std::move(fn));
  } else {
    // As in a process: a failed attempt's emits never leave; their numbers are given back.
    for (auto it = staged_.rbegin(); it != staged_.rend(); ++it)
      --outputs_[it->first].seq;
  }
  staged_.clear();
  staged_receipts_.clear();
  return outcome;
}

void TestEngine::post(std::function<void()> fn) {
  std::lock_guard lock(post_mutex_);
  posted_.push_back(std::move(fn));
}

WatchId TestEngine::watch_fd(int fd, short events, std::function<void(short)> fn) {
  watches_.emplace(next_watch_, Watch{fd, nullptr, events, std::move(fn)});
  return next_watch_++;
}

WatchId TestEngine::watch_socket(void* socket, short events, std::function<void(short)> fn) {
  watches_.emplace(next_watch_, Watch{-1, socket, events, std::move(fn)});
  return next_watch_++;
}

void TestEngine::run_posted_and_watches() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(post_mutex_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) {
    try {
      fn();
    } catch (const std::exception& e) {
      BROOK_LOG(kError) << "posted callback threw: " << e.what();
    }
  }
  std::vector<WatchId> ids;
  for (const auto& [id, w] : watches_)
    ids.push_back(id);
  for (const WatchId id : ids) {
    const auto it = watches_.find(id);
    if (it == watches_.end()) continue;  // unwatched by an earlier callback
    zmq::pollitem_t item{it->second.socket, it->second.fd, it->second.events, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(0)) <= 0 || item.revents == 0) continue;
    const auto fn = it->second.fn;  // the callback may unwatch itself
    fn(static_cast<short>(item.revents & it->second.events));
  }
}

TimerId TestEngine::add_timer(std::chrono::milliseconds delay, std::chrono::milliseconds period,
                              bool periodic, std::function<void()> fn) {
  // A process runs a zero-period timer on every loop iteration; here, once per millisecond.
  if (periodic && period < 1ms) period = 1ms;
  return timers_.add(now_ + delay, period, periodic, std::move(fn));
}

int TestEngine::run() {
  throw ConfigError(
      "run() is not for brook::testing nodes: TestNode::start() and stop() stand for it");
}

// ---- the test's side -------------------------------------------------------------------------

void TestEngine::start() {
  if (started_) throw ConfigError("start() called twice");
  for (const auto& in : inputs_) {
    if (!in.handler) no_handler(in.port, *in.channel);
  }
  for (const auto& s : servers_) {
    if (!s.handler) no_handler(s.port, *s.channel);
  }
  started_ = true;
  run_callbacks(on_ready_, "on_ready");
  answer_served_requests();
}

void TestEngine::shutdown() {
  if (!started_) throw ConfigError("stop() before start()");
  if (stopped_) return;
  run_callbacks(on_stop_, "on_stop");
  stopped_ = true;
  retries_.clear();
  // As in a process: the node's requests still waiting get no answer.
  pending_.clear();
  request_deadlines_.clear();
  to_serve_.clear();
}

void TestEngine::check_open(const char* what) const {
  if (!started_) {
    throw ConfigError(std::string(what) +
                      " before start(): start the node first (a process takes messages once it is "
                      "ready)");
  }
  if (stopped_) throw ConfigError(std::string(what) + " after stop()");
}

std::vector<std::byte> TestEngine::encode_sent(const ChannelSpec& channel, SeqByProducer& next_seq,
                                               std::string_view default_producer,
                                               std::span<const std::byte> payload,
                                               std::string_view type,
                                               const testing::SendOptions& options) {
  const std::string producer =
      options.producer.empty() ? std::string(default_producer) : options.producer;
  std::uint64_t& last = next_seq[producer];
  const std::uint64_t seq = options.seq.value_or(last + 1);
  last = std::max(last, seq);
  std::vector<Header> headers;
  for (const auto& [k, v] : options.headers)
    headers.emplace_back(k, v);
  OutgoingEnvelope env;
  env.producer = producer;
  env.seq = seq;
  env.channel = channel.name;
  env.type = type;
  if (options.key) env.key = *options.key;
  env.created_ns = wall_clock_ns();
  env.trace = trace_ids_.next();
  env.headers = headers;
  const std::span<const std::byte> frame = send_encoder_.encode_raw(env, payload);
  return std::vector<std::byte>(frame.begin(), frame.end());
}

const testing::Delivery& TestEngine::send_raw(std::string_view port,
                                              std::span<const std::byte> payload,
                                              std::string_view type,
                                              const testing::SendOptions& options) {
  check_open("send()");
  Input& in = inputs_[input_index(port)];
  return send_frame(
      port, encode_sent(*in.channel, in.next_seq, kDefaultProducer, payload, type, options));
}

const testing::Delivery& TestEngine::send_frame(std::string_view port,
                                                std::span<const std::byte> frame) {
  check_open("send()");
  const std::size_t input = input_index(port);
  deliveries_.emplace_back().port = std::string(port);
  const std::size_t delivery = deliveries_.size() - 1;
  dispatch(input, frame, 0, delivery);
  answer_served_requests();
  return deliveries_[delivery];
}

void TestEngine::dispatch(std::size_t input, std::span<const std::byte> frame,
                          std::uint32_t attempt, std::size_t delivery) {
  Input& in = inputs_[input];
  testing::Delivery& d = deliveries_[delivery];
  ChannelCounters& counters = *in.counters;
  EnvelopeView env;
  if (const DecodeStatus st = decode_envelope(frame, in.limits, env); !st) {
    ++counters.decode_errors;
    d.outcome = testing::Outcome::kMalformed;
    d.errors.push_back(st.describe());
    return;
  }
  d.producer = std::string(env.id.producer);
  d.seq = env.id.seq;
  const bool reliable = in.channel->reliable();
  if (env.channel != in.channel->name) {
    // As a process does: an at-least-once producer keeps it (a stale address), not acknowledged;
    // best-effort, it is lost.
    ++(reliable ? counters.misrouted : counters.decode_errors);
    d.outcome = testing::Outcome::kWrongChannel;
    d.errors.push_back("envelope names channel '" + std::string(env.channel.substr(0, 64)) +
                       "' but arrived on '" + in.channel->name + "'");
    return;
  }
  if (attempt == 0 && reliable) {
    const auto seen = in.seen.find(env.id.producer);
    if (seen != in.seen.end() && seen->second.handled(env.id.seq)) {
      ++counters.duplicates;
      d.outcome = testing::Outcome::kDuplicate;
      // A re-send of a message waiting for its retry is neither handled again nor acknowledged.
      if (!in.retrying.count({d.producer, d.seq})) acknowledge(in, env.id, d);
      return;
    }
  }
  if (attempt == 0) {
    ++counters.received;
  } else {
    env.attempt = attempt;
    ++counters.retried;
  }
  const Message message = make_message(env, in.port, payload_decoder_);
  handling_ = &env;
  handling_delivery_ = delivery;
  HandlerOutcome outcome = call_in_transaction(in, message);
  handling_delivery_ = kNone;
  ++d.attempts;
  if (outcome.result == HandlerResult::kDeclined && !reliable) {
    outcome.result = HandlerResult::kThrew;  // a best-effort input cannot give it back
  }
  switch (outcome.result) {
    case HandlerResult::kOk:
      d.outcome = testing::Outcome::kHandled;
      if (holds_.count(delivery) != 0) {
        settle_holds(delivery, true);
      } else {
        acknowledge(in, env.id, d);
      }
      break;
    case HandlerResult::kUndecodable:
      ++counters.decode_errors;
      d.errors.push_back(outcome.error);
      d.outcome = in.dead_letter_output != kNone && dead_letter(in, env, env.attempt, outcome.error)
                      ? testing::Outcome::kDeadLettered
                      : testing::Outcome::kUndecodable;
      acknowledge(in, env.id, d);
      break;
    case HandlerResult::kThrew:
      failed(input, env, frame, env.attempt, outcome.error, delivery);
      break;
    case HandlerResult::kDeclined:
      // Neither acknowledged nor remembered: the producer re-sends it (send it again).
      ++counters.declined;
      d.errors.push_back(outcome.error);
      d.outcome = testing::Outcome::kDeclined;
      break;
  }
  if (outcome.result != HandlerResult::kOk) settle_holds(delivery, false);
  handling_ = nullptr;
}

void TestEngine::failed(std::size_t input, const EnvelopeView& env,
                        std::span<const std::byte> frame, std::uint32_t attempt,
                        const std::string& error, std::size_t delivery) {
  Input& in = inputs_[input];
  testing::Delivery& d = deliveries_[delivery];
  ++in.counters->handler_errors;
  d.errors.push_back(error);
  const auto delay = stopped_ ? std::nullopt : backoff_.next(in.channel->retry, attempt);
  BROOK_LOG(kInfo) << "handler for port '" << in.port << "' threw on message " << env.id.producer
                   << "/" << env.id.seq << " (attempt " << attempt << " of "
                   << in.channel->retry.max_attempts << "): " << error;
  if (delay) {
    d.outcome = testing::Outcome::kRetrying;
    if (in.channel->reliable()) {
      in.seen.try_emplace(d.producer, dedupe_window_size(*in.channel))
          .first->second.mark(env.id.seq);
      in.retrying.emplace(d.producer, d.seq);
    }
    retries_.emplace(now_ + *delay, Retry{input, std::vector<std::byte>(frame.begin(), frame.end()),
                                          attempt + 1, delivery});
    return;
  }
  d.outcome = in.dead_letter_output != kNone && dead_letter(in, env, attempt, error)
                  ? testing::Outcome::kDeadLettered
                  : testing::Outcome::kFailed;
  acknowledge(in, env.id, d);
}

bool TestEngine::dead_letter(Input& in, const EnvelopeView& env, std::uint32_t attempts,
                             const std::string& error) {
  if (!emit_dead_letter(in.dead_letter_output, in.channel->dead_letter, env, attempts, error)) {
    return false;
  }
  ++in.counters->dead_lettered;
  return true;
}

void TestEngine::acknowledge(Input& in, const MessageId& id, testing::Delivery& d) {
  if (!in.channel->reliable()) return;
  in.seen.try_emplace(std::string(id.producer), dedupe_window_size(*in.channel))
      .first->second.mark(id.seq);
  in.retrying.erase({std::string(id.producer), id.seq});
  d.acknowledged = true;
}

void TestEngine::advance(std::chrono::milliseconds d) {
  if (d < 0ms) throw UsageError("advance(): the clock does not go back");
  const Clock::time_point target = now_ + d;
  run_posted_and_watches();
  // Periodic timers move at least a millisecond per run (add_timer) and one-shot timers and
  // retries are consumed, so the loop ends.
  answer_served_requests();
  while (true) {
    const std::optional<Clock::time_point> due = next_due();
    if (!due || *due > target) break;
    now_ = std::max(*due, now_);
    timers_.run_due(now_, [](const std::exception& e) {
      BROOK_LOG(kError) << "timer callback threw: " << e.what();
    });
    run_due_retries();
    expire_requests();
    answer_served_requests();
  }
  now_ = target;
}

std::optional<TestEngine::Clock::time_point> TestEngine::next_due() const {
  Clock::time_point due = timers_.next_deadline();
  if (!retries_.empty()) due = std::min(due, retries_.begin()->first);
  if (!request_deadlines_.empty()) due = std::min(due, request_deadlines_.begin()->first);
  if (due == Clock::time_point::max()) return std::nullopt;
  return due;
}

void TestEngine::run_due_retries() {
  while (!retries_.empty() && retries_.begin()->first <= now_) {
    auto node = retries_.extract(retries_.begin());
    const Retry& r = node.mapped();
    dispatch(r.input, r.frame, r.attempt, r.delivery);
  }
}

const std::vector<testing::Emitted>& TestEngine::emitted(std::string_view port) const {
  return outputs_[output_index(port)].captured;
}

const std::vector<testing::Emitted>& TestEngine::dead_letters(std::string_view input_port) const {
  const Input& in = inputs_[input_index(input_port)];
  if (in.dead_letter_output == kNone) return kNothingEmitted;
  return outputs_[in.dead_letter_output].captured;
}

void TestEngine::clear_emitted() {
  for (auto& out : outputs_)
    out.captured.clear();
}

const ChannelCounters& TestEngine::channel_counters(std::string_view channel) const {
  const auto it = counters_.channels.find(channel);
  return it == counters_.channels.end() ? kZeroCounters : it->second;
}

}  // namespace brook::detail
