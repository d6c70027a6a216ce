#include "runtime/node_engine.hpp"

#include <brook/ids.hpp>
#include <brook/log.hpp>
#include <cstdlib>

#include "runtime/handling.hpp"
#include "topology/scope.hpp"

namespace brook::detail {

namespace {

std::string join_ports(const std::vector<PortSpec>& ports) {
  std::string s;
  for (const auto& p : ports) {
    if (!s.empty()) s += ", ";
    s += p.port;
  }
  return s.empty() ? "none" : s;
}

constexpr const char* kPortFix =
    ": map it to a channel there, or mark it optional in the code (brook::optional_port)";

// What a node process runs with: only the part $BROOK_TOPOLOGY_SCOPE names, when brook up gave
// this node one (topology/scope.hpp). Not a view of the whole topology, so not what brook
// resolve shows.
Topology load_process_topology(const NodeOptions& o) {
  if (o.preloaded) return *o.preloaded;
  LoadOptions lo;
  lo.overrides = o.overrides;
  lo.resolve_execs = false;
  return load_scoped_topology(o.topology, o.node, std::getenv(kTopologyScopeEnv), lo);
}

}  // namespace

Topology load_node_topology(const NodeOptions& o) {
  if (o.preloaded) return *o.preloaded;
  LoadOptions lo;
  lo.overrides = o.overrides;
  lo.resolve_execs = false;
  return load_topology(o.topology, lo);
}

const NodeSpec& node_instance_spec(const Topology& t, const NodeOptions& o) {
  const NodeSpec* spec = t.node(o.node);
  if (spec == nullptr) {
    std::string names;
    for (const auto& n : t.nodes)
      names += (names.empty() ? "" : ", ") + n.name;
    throw ConfigError("node '" + o.node + "' is not in topology '" + t.name + "' (" +
                      o.topology.string() + "; nodes: " + names + ")");
  }
  if (o.instance >= static_cast<std::uint32_t>(spec->replicas)) {
    throw ConfigError("--instance " + std::to_string(o.instance) + " is out of range: node '" +
                      spec->name + "' has " + std::to_string(spec->replicas) +
                      " replicas (instances 0.." + std::to_string(spec->replicas - 1) + "; " +
                      spec->where.str() + ")");
  }
  return *spec;
}

NodeEngine::NodeEngine(NodeOptions options, std::string incarnation)
    : options_(std::move(options)),
      topology_(load_process_topology(options_)),
      incarnation_(std::move(incarnation)) {
  spec_ = &node_instance_spec(topology_, options_);
  instance_name_ = spec_->name + "." + std::to_string(options_.instance);
  producer_id_ = instance_name_ + "@" + incarnation_;
  set_log_level(options_.log_level);
  if (const auto format = options_.log_format ? options_.log_format : topology_.log.format) {
    set_log_format(*format);
  }
  set_log_identity(instance_name_);
  params_ = spec_->params;
}

std::string NodeEngine::where_declared() const {
  if (spec_->where.line > 0) return spec_->where.str();
  if (!topology_.file.empty()) return topology_.file.string();
  return "topology '" + topology_.name + "'";
}

void NodeEngine::no_input_port(std::string_view port) const {
  throw ConfigError("node '" + spec_->name + "' has no input port '" + std::string(port) + "' in " +
                    where_declared() + " (inputs: " + join_ports(spec_->inputs) + ")" + kPortFix);
}

void NodeEngine::no_output_port(std::string_view port) const {
  throw ConfigError("node '" + spec_->name + "' has no output port '" + std::string(port) +
                    "' in " + where_declared() + " (outputs: " + join_ports(spec_->outputs) + ")" +
                    kPortFix);
}

Counter NodeEngine::user_counter(std::string_view name) {
  auto& values = counters_.user_counters;
  auto it = values.find(name);
  if (it == values.end()) {
    check_new_user_metric(name, "counter");
    it = values.emplace(std::string(name), 0).first;
  }
  // std::map never moves its values, so the handle stays valid as more are declared.
  return Counter(&it->second);
}

Gauge NodeEngine::user_gauge(std::string_view name) {
  auto& values = counters_.user_gauges;
  auto it = values.find(name);
  if (it == values.end()) {
    check_new_user_metric(name, "gauge");
    it = values.emplace(std::string(name), 0).first;
  }
  return Gauge(&it->second);
}

void NodeEngine::check_new_user_metric(std::string_view name, std::string_view kind) const {
  const std::string what =
      "node '" + spec_->name + "': " + std::string(kind) + " '" + std::string(name) + "'";
  if (!valid_user_metric_name(name)) {
    throw ConfigError(what + " has an invalid name: use 1 to " +
                      std::to_string(kMaxUserMetricName) +
                      " characters of a-z, 0-9, '_', '.' and '-' (e.g. \"lines_seen\")");
  }
  const bool counter = counters_.user_counters.find(name) != counters_.user_counters.end();
  const bool gauge = counters_.user_gauges.find(name) != counters_.user_gauges.end();
  if (counter || gauge) {
    throw ConfigError(what + ": the node already has a " + (counter ? "counter" : "gauge") +
                      " of that name, and a counter and a gauge cannot share one: rename one");
  }
  if (counters_.user_counters.size() + counters_.user_gauges.size() >= kMaxUserMetrics) {
    throw ConfigError(what + ": the node already has " + std::to_string(kMaxUserMetrics) +
                      " counters and gauges, the most it may report; declare each once and keep "
                      "its handle, and do not make names from data (one counter per key)");
  }
}

void NodeEngine::no_handler(const std::string& port, const ChannelSpec& channel) {
  if (channel.pattern == Pattern::kRequest) {
    throw ConfigError("input port '" + port + "' (request channel '" + channel.name +
                      "') has no handler; call node.on_request<Req, Rep>(\"" + port +
                      "\", ...) before run()");
  }
  throw ConfigError("input port '" + port + "' (channel '" + channel.name +
                    "') has no handler; call node.on(\"" + port + "\", ...) before run()");
}

void NodeEngine::hold_outside_handler() {
  throw Error("node.hold() holds the message being handled: call it inside an input handler");
}

void NodeEngine::hold_with_state() {
  throw Error(
      "node.hold(): this node keeps state (node.state()), whose commits acknowledge "
      "what they handled; keep what must wait in the state instead");
}

void NodeEngine::hold_unacknowledged(std::string_view port, const ChannelSpec& channel) {
  throw Error("node.hold(): port '" + std::string(port) + "' (channel '" + channel.name +
              "') does not acknowledge what it receives, so there is nothing to hold back; "
              "hold on at-least-once pipeline inputs");
}

void NodeEngine::receipt_unacknowledged(std::string_view port, const ChannelSpec& channel) {
  throw Error("emit() with on_acknowledged on output '" + std::string(port) + "': channel '" +
              channel.name + "' is " +
              (channel.pattern == Pattern::kPubsub ? "pubsub" : "best-effort") +
              ", which nobody acknowledges; on_acknowledged needs an at-least-once pipeline "
              "channel (delivery: at-least-once, the default)");
}

void NodeEngine::frame_too_large(const ChannelSpec& channel, std::size_t size) {
  throw MessageTooLarge("channel '" + channel.name + "': message of " + std::to_string(size) +
                        " bytes exceeds max_message_size " +
                        std::to_string(channel.max_message_size) +
                        " (raise it in the topology's channel spec)");
}

OutgoingEnvelope NodeEngine::new_envelope(std::string_view producer, std::uint64_t seq,
                                          std::string_view channel, std::string_view type,
                                          const EmitOptions& o, const TraceId& trace) {
  OutgoingEnvelope env;
  env.producer = producer;
  env.seq = seq;
  env.channel = channel;
  env.type = type;
  env.key = o.key;
  env.created_ns = wall_clock_ns();
  env.attempt = 1;
  env.trace = trace;
  env.headers = o.headers;
  return env;
}

bool NodeEngine::emit_dead_letter(std::size_t output, std::string_view dead_letter,
                                  const EnvelopeView& env, std::uint32_t attempts,
                                  const std::string& error) {
  const auto owned = dead_letter_headers(env, error, attempts, instance_name_);
  std::vector<Header> headers;
  for (const auto& [k, v] : owned)
    headers.emplace_back(k, v);
  EmitOptions o;
  if (env.has_key) o.key = env.key;
  o.headers = headers;
  try {
    const OutgoingEnvelope out = begin_emit(output, env.type, o);
    finish_emit(output, encoder().encode_raw(out, env.payload), o);
  } catch (const std::exception& e) {
    BROOK_LOG(kError) << "cannot dead-letter message " << env.id.producer << "/" << env.id.seq
                      << " to '" << dead_letter << "': " << e.what();
    return false;
  }
  return true;
}

void NodeEngine::run_callbacks(const std::vector<std::function<void()>>& fns, const char* what) {
  for (const auto& fn : fns) {
    try {
      fn();
    } catch (const std::exception& e) {
      BROOK_LOG(kError) << what << " callback threw: " << e.what();
    }
  }
}

}  // namespace brook::detail
