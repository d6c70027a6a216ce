// The `hosts:` section and each node's `host:` (docs/topology.md#hosts).
#include <algorithm>

#include "topology/decode.hpp"
#include "topology/endpoint.hpp"

namespace brook::detail {

namespace {

constexpr std::string_view kHostsExample = "e.g. hosts: {a: 10.0.0.1, b: {address: 10.0.0.2}}";

// An address or host name to advertise or bind: not an endpoint, not empty.
bool valid_address(std::string_view s) noexcept {
  if (s.empty() || s.size() > 255 || s.find("://") != std::string_view::npos) return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '/' || static_cast<unsigned char>(c) < 0x20;
  });
}

std::optional<std::string> read_address(DiagnosticSink& sink, const Entry& e,
                                        const std::string& label) {
  auto s = read_string(sink, e, label);
  if (!s) return std::nullopt;
  if (valid_address(*s)) return s;
  sink.error(where_value(sink, e), label + ": '" + *s + "' is not an address",
             "write an IP address or host name without scheme or port, e.g. 10.0.0.1");
  return std::nullopt;
}

std::vector<std::string> host_names(const Topology& t) {
  std::vector<std::string> names;
  for (const auto& h : t.hosts)
    names.push_back(h.name);
  return names;
}

}  // namespace

void decode_hosts(DiagnosticSink& sink, const Entry& entry, std::vector<HostSpec>& out) {
  if (!expect_map(sink, entry, "hosts", true)) return;
  for (const auto& [name, e] : read_named(sink, entry.value, "host")) {
    HostSpec h;
    h.name = name;
    h.where = sink.where(e.key);
    const std::string label = "hosts." + name;
    if (e.value.IsScalar()) {
      if (auto a = read_address(sink, e, label)) h.address = *a;
    } else if (e.value.IsMap()) {
      const Fields f = read_fields(sink, e.value, {"address", "bind"}, "in host '" + name + "'");
      if (const Entry* x = f.find("address")) {
        if (auto a = read_address(sink, *x, label + ".address")) h.address = *a;
      } else {
        sink.error(sink.where(e.value), "missing required key 'address' in host '" + name + "'",
                   "the address its nodes advertise, e.g. " + name + ": {address: 10.0.0.1}");
      }
      if (const Entry* x = f.find("bind")) {
        if (auto b = read_address(sink, *x, label + ".bind")) h.bind = *b;
      }
    } else {
      sink.error(where_value(sink, e),
                 label + ": expected an address or a map {address, bind}, got " + describe(e.value),
                 std::string(kHostsExample));
    }
    out.push_back(std::move(h));
  }
}

void decode_node_hosts(DiagnosticSink& sink, const Entry& e, std::vector<std::string>& out) {
  if (e.value.IsScalar()) {
    if (auto s = read_string(sink, e, "host")) out = {*s};
    return;
  }
  auto list = read_string_list(sink, e, "host");
  if (!list) return;
  if (list->empty()) {
    sink.error(where_value(sink, e),
               "host: expected a host name or a list of them, got an empty list",
               "name the host every replica runs on, or one host per replica");
    return;
  }
  out = std::move(*list);
}

void check_hosts(const Decoded& d, DiagnosticSink& sink) {
  const Topology& t = d.topology;
  const std::vector<std::string> names = host_names(t);
  for (std::size_t i = 0; i < t.nodes.size(); ++i) {
    const NodeSpec& n = t.nodes[i];
    const SourceLocation& where = d.host_where[i].line != 0 ? d.host_where[i] : n.where;
    if (n.hosts.empty()) {
      if (!t.hosts.empty()) {
        sink.error(
            n.where, "node '" + n.name + "' names no host, but the topology declares hosts:",
            "add host: <name> (hosts: " + join(names) + "), or a list with one host per replica");
      }
      continue;
    }
    if (t.hosts.empty()) {
      sink.error(where, "node '" + n.name + "' names a host, but the topology declares no hosts:",
                 std::string(kHostsExample) + ", or remove host:");
      continue;
    }
    for (const auto& h : n.hosts) {
      if (t.host(h) != nullptr) continue;
      sink.error(where, "node '" + n.name + "' runs on undeclared host '" + h + "'",
                 suggest(h, names, "declared hosts", "declare it under hosts:"));
    }
    if (n.hosts.size() > 1 && n.hosts.size() != static_cast<std::size_t>(n.replicas)) {
      sink.error(where,
                 "node '" + n.name + "' lists " + std::to_string(n.hosts.size()) + " hosts for " +
                     std::to_string(n.replicas) + " replica(s)",
                 "list one host per replica (instance i runs on the i-th), or name one host for "
                 "all of them");
    }
  }
  if (t.hosts.empty() || t.directory.external) return;
  for (const auto& ep : t.directory.endpoints) {
    const std::string_view h = endpoint_host(ep);
    const bool on_a_host = std::any_of(t.hosts.begin(), t.hosts.end(), [&](const HostSpec& x) {
      return !h.empty() && (h == x.address || h == x.name);
    });
    if (on_a_host) continue;
    sink.warning(t.directory.where,
                 "directory endpoint " + ep +
                     " is on no declared host: no `brook up --host` "
                     "starts a directory there",
                 "use the address of one of the hosts (" + join(names) +
                     "), or set directory.external: true and run brook-directory yourself");
  }
}

}  // namespace brook::detail
