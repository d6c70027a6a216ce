// The `nodes:` section: programs, ports, params, env and restart policy.
#include "topology/decode.hpp"
#include "topology/params_yaml.hpp"
#include "topology/values.hpp"

namespace brook::detail {

namespace {

const std::vector<std::string> kNodeKeys = {"exec",    "args",          "replicas",      "job",
                                            "inputs",  "outputs",       "params",        "env",
                                            "restart", "ready_timeout", "drain_timeout", "host"};
const std::vector<std::string> kPolicies = {"never", "on-failure", "always"};

// Reads `inputs:` or `outputs:` of one node.
class PortReader {
 public:
  PortReader(DiagnosticSink& sink, Decoded& out, const std::string& node, std::string direction)
      : sink_(sink), out_(out), node_(node), direction_(std::move(direction)) {}

  std::vector<PortSpec> read(const Entry& e) {
    const std::string label = direction_ + "s";
    if (e.value.IsSequence()) {
      for (auto it = e.value.begin(); it != e.value.end(); ++it)
        item(Entry{*it, *it});
    } else if (e.value.IsMap()) {
      for (auto it = e.value.begin(); it != e.value.end(); ++it)
        mapped(Entry{it->first, it->second});
    } else if (!e.value.IsNull()) {
      sink_.error(where_value(sink_, e),
                  label + ": expected a list of channel names or a map port: channel, got " +
                      describe(e.value),
                  "e.g. " + label + ": [orders] or " + label + ": {port: channel}");
    }
    return std::move(ports_);
  }

 private:
  // `- channel` or `- {port: p, channel: c, pattern: pubsub}`
  void item(const Entry& e) {
    const std::string label = direction_ + "s";
    if (e.value.IsScalar()) {
      add(e.value.Scalar(), e.value.Scalar(), sink_.where(e.value), sink_.where(e.value));
      return;
    }
    if (!e.value.IsMap()) {
      sink_.error(where_value(sink_, e),
                  label + ": expected a channel name or a map {port, channel, pattern}, got " +
                      describe(e.value));
      return;
    }
    const std::string context = "in an " + direction_ + " of node '" + node_ + "'";
    std::vector<std::string> keys = {"port", "channel", "pattern"};
    if (direction_ == "output") keys.insert(keys.end(), {"durable", "fsync"});
    const Fields f = read_fields(sink_, e.value, keys, context);
    const Entry* channel = f.find("channel");
    if (channel == nullptr) {
      sink_.error(sink_.where(e.value), "missing required key 'channel' " + context,
                  "e.g. {port: " + direction_ + ", channel: orders}");
      return;
    }
    auto channel_name = read_string(sink_, *channel, label + ".channel");
    if (!channel_name) return;
    std::string port = *channel_name;
    SourceLocation port_where = where_value(sink_, *channel);
    if (const Entry* p = f.find("port")) {
      auto name = read_string(sink_, *p, label + ".port");
      if (!name) return;
      port = *name;
      port_where = where_value(sink_, *p);
    }
    if (const Entry* p = f.find("pattern")) {
      if (auto pattern = read_enum<Pattern>(sink_, *p, label + ".pattern", parse_pattern,
                                            {"pipeline", "pubsub", "request"})) {
        out_.assertions.push_back(PatternAssertion{node_, direction_, port, *channel_name, *pattern,
                                                   where_value(sink_, *p)});
      }
    }
    if (!add(port, *channel_name, port_where, where_value(sink_, *channel))) return;
    PortSpec& added = ports_.back();
    if (const Entry* d = f.find("durable")) {
      if (auto v = read_bool(sink_, *d, label + ".durable")) added.durable = *v;
      added.durable_where = where_value(sink_, *d);
    }
    if (const Entry* x = f.find("fsync")) {
      if (auto v = read_enum<FsyncPolicy>(sink_, *x, label + ".fsync", parse_fsync,
                                          {"always", "batch", "never"})) {
        added.fsync = *v;
      }
      if (!added.durable) {
        sink_.error(where_value(sink_, *x),
                    "fsync is a setting of durable outputs; output '" + port + "' of node '" +
                        node_ + "' is not durable",
                    "add durable: true, or remove fsync");
      }
    }
  }

  // `port: channel`
  void mapped(const Entry& e) {
    const std::string label = direction_ + "s";
    if (!e.key.IsScalar()) {
      sink_.error(sink_.where(e.key), label + ": expected a port name, got " + describe(e.key));
      return;
    }
    if (!e.value.IsScalar()) {
      sink_.error(
          where_value(sink_, e),
          label + "." + e.key.Scalar() + ": expected a channel name, got " + describe(e.value),
          "to assert a pattern use the list form: - {port: p, channel: c, pattern: pubsub}");
      return;
    }
    add(e.key.Scalar(), e.value.Scalar(), sink_.where(e.key), sink_.where(e.value));
  }

  bool add(const std::string& port, const std::string& channel, const SourceLocation& port_where,
           const SourceLocation& channel_where) {
    if (!valid_name(port)) {
      sink_.error(port_where, "invalid port name '" + port + "' in node '" + node_ + "'",
                  std::string(kNameRule));
    }
    for (std::size_t i = 0; i < ports_.size(); ++i) {
      if (ports_[i].port != port) continue;
      sink_.error(port_where,
                  "duplicate " + direction_ + " port '" + port + "' in node '" + node_ + "'",
                  "first declared at " + port_where_[i].str());
      return false;
    }
    PortSpec p;
    p.port = port;
    p.channel = channel;
    p.where = channel_where;
    ports_.push_back(std::move(p));
    port_where_.push_back(port_where);
    return true;
  }

  DiagnosticSink& sink_;
  Decoded& out_;
  const std::string& node_;
  std::string direction_;
  std::vector<PortSpec> ports_;
  std::vector<SourceLocation> port_where_;  // where each port is named, for duplicates
};

void decode_restart(DiagnosticSink& sink, const Entry& e, const std::string& node, RestartSpec& r) {
  if (e.value.IsScalar()) {
    if (auto p = read_enum<RestartPolicy>(sink, e, "restart", parse_restart_policy, kPolicies)) {
      r.policy = *p;
    }
    return;
  }
  if (!e.value.IsMap()) {
    sink.error(where_value(sink, e),
               "restart: expected a policy or a map, got " + describe(e.value),
               "e.g. restart: on-failure, or restart: {policy: always, max_restarts: 5}");
    return;
  }
  const Fields f = read_fields(sink, e.value, {"policy", "max_restarts", "window", "backoff"},
                               "in restart of node '" + node + "'");
  if (const Entry* x = f.find("policy")) {
    if (auto p =
            read_enum<RestartPolicy>(sink, *x, "restart.policy", parse_restart_policy, kPolicies)) {
      r.policy = *p;
    }
  }
  if (const Entry* x = f.find("max_restarts")) {
    if (auto v = read_int(sink, *x, "restart.max_restarts", 0))
      r.max_restarts = static_cast<int>(*v);
  }
  if (const Entry* x = f.find("window")) {
    if (auto v = read_duration(sink, *x, "restart.window")) r.window = *v;
  }
  const Entry* backoff = f.find("backoff");
  if (backoff == nullptr || !expect_map(sink, *backoff, "restart.backoff", true)) return;
  const Fields b = read_fields(sink, backoff->value, {"initial", "max"},
                               "in restart.backoff of node '" + node + "'");
  bool ok = true;
  if (const Entry* x = b.find("initial")) {
    auto v = read_duration(sink, *x, "restart.backoff.initial");
    if (v) r.backoff_initial = *v;
    ok = v.has_value();
  }
  const Entry* max = b.find("max");
  if (max) {
    auto v = read_duration(sink, *max, "restart.backoff.max");
    if (v) r.backoff_max = *v;
    ok = ok && v.has_value();
  }
  if (ok && r.backoff_initial > r.backoff_max) {
    sink.error(max ? where_value(sink, *max) : where_value(sink, *b.find("initial")),
               "restart.backoff.initial (" + format_duration(r.backoff_initial) +
                   ") must not exceed restart.backoff.max (" + format_duration(r.backoff_max) + ")",
               "the delay starts at initial and doubles up to max");
  }
}

void decode_env(DiagnosticSink& sink, const Entry& e, std::map<std::string, std::string>& out) {
  if (!expect_map(sink, e, "env", true)) return;
  for (auto it = e.value.begin(); it != e.value.end(); ++it) {
    const Entry var{it->first, it->second};
    if (!var.key.IsScalar()) {
      sink.error(sink.where(var.key), "env: expected a variable name, got " + describe(var.key));
      continue;
    }
    const std::string label = "env." + var.key.Scalar();
    if (var.value.IsNull()) {
      sink.error(where_value(sink, var), label + ": expected a string, got nothing",
                 "write " + var.key.Scalar() + ": \"\" for an empty value");
      continue;
    }
    if (auto v = read_string(sink, var, label)) out.emplace(var.key.Scalar(), *v);
  }
}

void decode_node(DiagnosticSink& sink, const std::string& name, const Entry& e, Decoded& out) {
  NodeSpec n;
  n.name = name;
  n.where = sink.where(e.key);
  n.params = node_params(YAML::Node(), sink.file(), name);
  SourceLocation exec_where = n.where;
  SourceLocation host_where;
  const std::string context = "in node '" + name + "'";
  if (!e.value.IsNull() && !e.value.IsMap()) {
    sink.error(where_value(sink, e),
               "node '" + name + "': expected a map of settings, got " + describe(e.value),
               "e.g. " + name + ": {exec: my-program}");
  } else {
    const Fields f = e.value.IsMap() ? read_fields(sink, e.value, kNodeKeys, context) : Fields{};
    if (const Entry* x = f.find("exec")) {
      exec_where = where_value(sink, *x);
      if (auto v = read_string(sink, *x, "exec")) {
        n.exec = *v;
        if (v->empty()) sink.error(exec_where, "exec must not be empty", "name the program to run");
      }
    } else {
      sink.error(e.value.IsMap() ? sink.where(e.value) : sink.where(e.key),
                 "missing required key 'exec' " + context,
                 "name the program to run, e.g. exec: brook-" + name);
    }
    if (const Entry* x = f.find("args")) {
      if (auto v = read_string_list(sink, *x, "args")) n.args = std::move(*v);
    }
    if (const Entry* x = f.find("replicas")) {
      if (auto v = read_int(sink, *x, "replicas", 1)) n.replicas = static_cast<int>(*v);
    }
    if (const Entry* x = f.find("job")) {
      if (auto v = read_bool(sink, *x, "job")) n.job = *v;
    }
    if (const Entry* x = f.find("inputs")) n.inputs = PortReader(sink, out, name, "input").read(*x);
    if (const Entry* x = f.find("outputs")) {
      n.outputs = PortReader(sink, out, name, "output").read(*x);
    }
    if (const Entry* x = f.find("params")) {
      // Shares the document's node memory: copying it into params' own memory would merge the
      // whole document, a copy per node (quadratic in the number of nodes).
      if (expect_map(sink, *x, "params", true) && x->value.IsMap()) {
        n.params = node_params(x->value, sink.file(), name, sink.overrides());
      }
    }
    if (const Entry* x = f.find("env")) decode_env(sink, *x, n.env);
    if (const Entry* x = f.find("restart")) decode_restart(sink, *x, name, n.restart);
    if (const Entry* x = f.find("ready_timeout")) {
      if (auto v = read_duration(sink, *x, "ready_timeout")) n.ready_timeout = *v;
    }
    if (const Entry* x = f.find("drain_timeout")) {
      if (auto v = read_duration(sink, *x, "drain_timeout")) n.drain_timeout = *v;
    }
    if (const Entry* x = f.find("host")) {
      host_where = where_value(sink, *x);
      decode_node_hosts(sink, *x, n.hosts);
    }
  }
  out.topology.nodes.push_back(std::move(n));
  out.exec_where.push_back(exec_where);
  out.host_where.push_back(host_where);
}

}  // namespace

void decode_nodes(DiagnosticSink& sink, const Entry& entry, Decoded& out) {
  if (!expect_map(sink, entry, "nodes", true)) return;
  const auto named = read_named(sink, entry.value, "node");
  // NodeSpec holds a YAML::Node, whose move may throw: a growing vector would copy every spec.
  out.topology.nodes.reserve(named.size());
  out.exec_where.reserve(named.size());
  out.host_where.reserve(named.size());
  for (const auto& [name, e] : named)
    decode_node(sink, name, e, out);
}

}  // namespace brook::detail
