// brook graph TOPOLOGY: nodes, channels, patterns and replicas as Graphviz DOT, or SVG via `dot`.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.hpp"

namespace brook::cli {

namespace {

// A DOT string. Backslashes are left alone: labels use DOT's own "\n" escape.
std::string dot_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '\\';
    out += c;
  }
  return out + "\"";
}

// One box of the graph: a node, or (with hosts:) the instances of a node on one host.
struct Placement {
  const NodeSpec* node;
  std::string id;
  int instances;
};

std::vector<Placement> placements(const NodeSpec& n, const std::string& host) {
  if (host.empty()) return {{&n, "node:" + n.name, n.replicas}};
  int here = 0;
  for (int i = 0; i < n.replicas; ++i) {
    const std::string* h = n.host_of(i);
    here += h != nullptr && *h == host ? 1 : 0;
  }
  if (here == 0) return {};
  return {{&n, "node:" + n.name + "@" + host, here}};
}

void write_box(std::ostringstream& s, const Placement& p, const std::string& indent) {
  std::string label = p.node->name;
  if (p.instances > 1) label += " ×" + std::to_string(p.instances);
  if (p.node->job) label += "\\n(job)";
  s << indent << dot_quote(p.id) << " [shape=box, style=\"rounded" << (p.node->job ? ",dashed" : "")
    << "\", label=" << dot_quote(label) << "];\n";
}

// With hosts: one cluster per host holding its directories and its share of each node.
std::vector<Placement> write_boxes(std::ostringstream& s, const Topology& t) {
  std::vector<Placement> all;
  if (t.hosts.empty()) {
    for (const auto& n : t.nodes) {
      all.push_back(placements(n, "").front());
      write_box(s, all.back(), "  ");
    }
    return all;
  }
  for (std::size_t h = 0; h < t.hosts.size(); ++h) {
    const HostSpec& host = t.hosts[h];
    s << "  subgraph " << dot_quote("cluster_host_" + host.name) << " {\n"
      << "    label=" << dot_quote(host.name + " (" + host.address + ")") << ";\n"
      << "    style=rounded; color=gray;\n";
    for (const auto& ep : t.directory_endpoints_on(host)) {
      s << "    " << dot_quote("directory:" + ep)
        << " [shape=ellipse, style=dotted, label=" << dot_quote("directory\\n" + ep) << "];\n";
    }
    for (const auto& n : t.nodes) {
      for (const auto& p : placements(n, host.name)) {
        write_box(s, p, "    ");
        all.push_back(p);
      }
    }
    s << "  }\n";
  }
  return all;
}

std::string to_dot(const Topology& t) {
  std::ostringstream s;
  s << "digraph " << dot_quote(t.name) << " {\n"
    << "  rankdir=LR;\n"
    << "  node [fontname=\"Helvetica\", fontsize=11];\n"
    << "  edge [fontname=\"Helvetica\", fontsize=9];\n";
  const std::vector<Placement> boxes = write_boxes(s, t);
  for (const auto& c : t.channels) {
    const bool pubsub = c.pattern == Pattern::kPubsub;
    s << "  " << dot_quote("channel:" + c.name) << " [shape=" << (pubsub ? "hexagon" : "cds")
      << ", label=" << dot_quote(c.name + "\\n" + std::string(to_string(c.pattern)))
      << (c.external ? ", style=dashed" : "") << "];\n";
  }
  for (const auto& box : boxes) {
    const NodeSpec& n = *box.node;
    for (const auto& p : n.outputs) {
      s << "  " << dot_quote(box.id) << " -> " << dot_quote("channel:" + p.channel);
      if (p.port != p.channel) s << " [label=" << dot_quote(p.port) << "]";
      s << ";\n";
    }
    for (const auto& p : n.inputs) {
      s << "  " << dot_quote("channel:" + p.channel) << " -> " << dot_quote(box.id);
      if (p.port != p.channel) s << " [label=" << dot_quote(p.port) << "]";
      s << ";\n";
    }
  }
  s << "}\n";
  return s.str();
}

std::string run_dot(const std::string& dot) {
  // Write the DOT to a temp file and read dot's output through popen: simpler than two pipes.
  char path[] = "/tmp/brook-graph-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) throw Exit(kExitFailed, "brook graph: cannot create a temporary file");
  {
    std::ofstream f(path);
    f << dot;
  }
  ::close(fd);
  const std::string cmd = std::string("dot -Tsvg ") + path + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  if (p != nullptr) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
      out.append(buf, n);
  }
  const int status = p != nullptr ? ::pclose(p) : -1;
  std::remove(path);
  if (status != 0) {
    const bool missing = status == -1 || (WIFEXITED(status) && WEXITSTATUS(status) == 127);
    throw Exit(kExitFailed,
               missing ? "brook graph: Graphviz 'dot' is not installed (apt-get install graphviz), "
                         "or use --format dot"
                       : "brook graph: dot failed: " + out);
  }
  return out;
}

}  // namespace

int run_graph(const Args& args) {
  po::options_description o;
  add_topology_options(o);
  o.add_options()("format,f", po::value<std::string>()->default_value("dot"), "dot or svg")(
      "output,o", po::value<std::string>(), "write to this file instead of standard output")(
      "topology", po::value<std::string>()->required(), "topology file");
  po::positional_options_description pos;
  pos.add("topology", 1);
  const auto vm = parse(args, "TOPOLOGY [--format dot|svg] [-o FILE]",
                        "Draws the topology: boxes are nodes (×N replicas, dashed = job), arrows\n"
                        "show which channels (pipeline or pubsub) each node writes and reads.\n"
                        "With hosts:, a frame per host holds its directories and its instances.",
                        o, pos);
  if (!vm) return kExitOk;
  const std::string format = (*vm)["format"].as<std::string>();
  if (format != "dot" && format != "svg") {
    throw Exit(kExitUsage, "brook graph: --format must be dot or svg, got '" + format + "'");
  }
  const Topology t = load((*vm)["topology"].as<std::string>(), *vm);
  std::string text = to_dot(t);
  if (format == "svg") text = run_dot(text);
  if (vm->count("output")) {
    std::ofstream f((*vm)["output"].as<std::string>());
    if (!f)
      throw Exit(kExitUsage, "brook graph: cannot write " + (*vm)["output"].as<std::string>());
    f << text;
  } else {
    std::cout << text;
  }
  return kExitOk;
}

}  // namespace brook::cli
