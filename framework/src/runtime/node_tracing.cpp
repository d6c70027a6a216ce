// Tracing in the node's runtime (docs/monitoring.md, "Tracing"): the trace context of what it
// emits, and the spans of what it handles. An unsampled message costs one flag test here.
#include <brook/log.hpp>

#include "runtime/node_runtime.hpp"

namespace brook {

void NodeRuntime::start_tracing() {
  const TracingSpec& spec = topology_.tracing;
  // A tap is no hop of the messages it sees.
  if (options_.observer || (spec.spans.empty() && spec.otlp.empty())) return;
  tracer_ = std::make_unique<detail::Tracer>(
      spec, detail::SpanResource{topology_.name, spec_->name, options_.instance, producer_id()});
}

void NodeRuntime::trace_context(OutgoingEnvelope& env, const std::optional<TraceContext>& given) {
  if (given) {
    env.trace = given->trace;
    env.parent_span = given->parent;
    env.trace_flags = given->flags;
    return;
  }
  if (handling_ != nullptr) {
    const EnvelopeView& in = handling_->env;
    env.trace = in.trace;
    if (in.sampled()) {
      env.parent_span = handling_->span;
      env.trace_flags = kTraceSampled;
    }
    return;
  }
  env.trace = trace_ids_.next();
  if (!tracer_ || !tracer_->sampler().sampled(env.trace)) return;
  // The trace's root: this emit, recorded as a span the handlings downstream are children of.
  env.parent_span = trace_ids_.next_span();
  env.trace_flags = kTraceSampled;
  detail::SpanRecord s;
  s.kind = detail::SpanKind::kEmit;
  s.trace = env.trace;
  s.span = env.parent_span;
  s.channel = std::string(env.channel);
  s.producer = std::string(env.producer);
  s.seq = env.seq;
  s.start_ns = env.created_ns;
  tracer_->record(std::move(s));
}

void NodeRuntime::record_handling(const EnvelopeView& env, const SpanId& span,
                                  std::int64_t start_ns, Clock::time_point started,
                                  detail::SpanOutcome outcome, const std::string& error) {
  detail::SpanRecord s;
  s.kind = detail::SpanKind::kHandle;
  s.trace = env.trace;
  s.span = span;
  s.parent = env.parent_span;
  s.channel = std::string(env.channel);
  s.producer = std::string(env.id.producer);
  s.seq = env.id.seq;
  s.attempt = env.attempt;
  s.start_ns = start_ns;
  s.duration_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started).count();
  s.outcome = outcome;
  s.error = error.substr(0, 256);
  tracer_->record(std::move(s));
}

}  // namespace brook
