// A node's graceful stop (docs/runtime.md, "Shutdown"): settle the at-least-once inputs, then
// unregister and drain the rest, deliver what is pending, report, close. Every step is bounded.
#include <algorithm>
#include <brook/log.hpp>

#include "runtime/node_runtime.hpp"

namespace brook {

namespace {
using namespace std::chrono_literals;
// Inputs are drained until nothing arrived for this long.
constexpr auto kQuietForDrain = 100ms;
// What the unregistering drain gets at least when settling the at-least-once inputs took the
// whole drain_timeout (inputs that never went quiet): time for the directory's answer.
constexpr auto kMinUnregisterDrain = 200ms;
}  // namespace

void NodeRuntime::drain_inputs_until_quiet(Clock::time_point deadline, int reads_at_stop) {
  last_input_ = Clock::now();
  while (Clock::now() < deadline && stop_reads_ == reads_at_stop) {
    reactor_.run_once(std::min(deadline, Clock::now() + kQuietForDrain));
    bool unregistered = true;
    for (auto& s : sessions_)
      unregistered = unregistered && s->unregister_done();
    if (unregistered && Clock::now() - last_input_ >= kQuietForDrain) return;
  }
}

void NodeRuntime::settle_acknowledged_inputs(Clock::time_point deadline, int reads_at_stop) {
  bool any = false;
  for (auto& in : inputs_) {
    if (!in->acknowledges()) continue;
    in->begin_drain();
    any = true;
  }
  if (!any) return;
  reactor_.recheck_all();  // it sent on their sockets
  last_acknowledged_input_ = Clock::now();
  while (Clock::now() < deadline && stop_reads_ == reads_at_stop) {
    reactor_.run_once(std::min(deadline, Clock::now() + kQuietForDrain));
    for (auto& in : inputs_)
      in->flush_acks();
    if (Clock::now() - last_acknowledged_input_ >= kQuietForDrain &&
        tracker_.awaiting_downstream() == 0 && !pass_open()) {
      return;
    }
  }
}

void NodeRuntime::shutdown() {
  const auto begin = Clock::now();
  run_callbacks(on_stop_, "on_stop");
  const int reads_at_stop = stop_reads_;
  const std::uint64_t received_before = counters_.total().received;
  settle_acknowledged_inputs(begin + drain_timeout_, reads_at_stop);
  // Then unregister so the other producers stop routing to this instance, and keep handling
  // what was already sent here until the inputs go quiet: messages in our queues are not
  // thrown away.
  for (auto& s : sessions_)
    s->begin_unregister();
  reactor_.recheck_all();  // it sent on their sockets
  if (!inputs_.empty() || !servers_.empty())
    drain_inputs_until_quiet(std::max(begin + drain_timeout_, Clock::now() + kMinUnregisterDrain),
                             reads_at_stop);
  commit_pass();  // what the last pass handled, before its acks and outputs go
  const std::uint64_t drained = counters_.total().received - received_before;
  for (auto& r : requesters_)
    r->fail_all("the node is stopping");
  for (auto& in : inputs_)
    in->flush_acks();
  // Hand held messages to ZeroMQ; what sits in socket queues then gets the linger period.
  const auto flush_deadline = Clock::now() + linger_;
  const bool flushed = wait_until(
      [&] {
        flush_outputs();
        return std::none_of(outputs_.begin(), outputs_.end(),
                            [](const auto& out) { return out->has_pending(); });
      },
      stop_reads_ == reads_at_stop ? flush_deadline : Clock::now());
  for (auto& in : inputs_)
    in->flush_acks();  // chained acks released by the flush above
  for (auto& s : sessions_) {
    while (!s->unregister_done() && stop_reads_ == reads_at_stop) {
      reactor_.run_once(Clock::now() + 50ms, detail::Reactor::Mode::kControlOnly);
    }
  }
  for (auto& out : outputs_)
    out->flush();  // refreshes the pending and in_flight gauges: acks may have come since
  const auto total = counters_.total();
  // Held messages and at-least-once messages no consumer acknowledged are not delivered: the
  // line says so, and the exit status too, so a script or `brook up` sees the loss.
  const std::uint64_t undelivered = total.pending + total.in_flight;
  const bool lost = !flushed && undelivered > 0;
  const std::size_t held = tracker_.awaiting_acks() - tracker_.awaiting_downstream();
  if (lost && exit_code_ == 0) exit_code_ = 1;
  BROOK_LOG(kInfo)
      << "stopped after "
      << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin).count()
      << " ms: received " << total.received << " (" << drained << " while draining), emitted "
      << total.emitted << ", decode errors " << total.decode_errors << ", handler errors "
      << total.handler_errors << ", dropped " << total.dropped
      << (held > 0 ? ", " + std::to_string(held) + " held (node.hold) left with their producers"
                   : "")
      << (lost ? ", " + std::to_string(total.pending) + " still pending, " +
                     std::to_string(total.in_flight) +
                     " unacknowledged: not delivered within the linger (exit status 1)"
               : "");
  report_stop(stop_report());
}

std::string NodeRuntime::stop_report() const {
  // "channel:counter=value" for every counter that is not 0: what `brook up` sums per instance
  // to say how many messages were dead-lettered, dropped or failed (launch/loss_report.hpp).
  std::string out;
  for (const auto& entry : counters_.channels) {
    // Not a structured binding: clang (the fuzz build) cannot capture one in a lambda.
    const std::string& channel = entry.first;
    entry.second.for_each([&](std::string_view name, std::uint64_t v) {
      if (v == 0) return;
      if (!out.empty()) out += ' ';
      out += channel + ":" + std::string(name) + "=" + std::to_string(v);
    });
  }
  return out;
}

void NodeRuntime::close_all() noexcept {
  try {
    // Ports and sessions leave the reactor as they go; the context then waits up to each
    // socket's linger for queued messages to leave.
    sessions_.clear();
    for (const auto id : server_readers_)
      reactor_.remove(id);
    server_readers_.clear();
    servers_.clear();
    requesters_.clear();
    pass_input_.clear();  // not committed: their producers re-send them
    pass_output_.clear();
    inputs_.clear();
    outputs_.clear();
    zap_.reset();
    state_.reset();
    context_.close();
  } catch (...) {
    // Destructors must not throw; the process is going away.
  }
}

}  // namespace brook
