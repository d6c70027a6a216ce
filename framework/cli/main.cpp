// brook: launch and operate topologies. See docs/cli.md.
#include <iostream>
#include <string_view>

#include "commands.hpp"

namespace {

struct Subcommand {
  std::string_view name;
  std::string_view summary;
  int (*run)(const brook::cli::Args&);
};

constexpr Subcommand kSubcommands[] = {
    {"up", "start a topology's directory and nodes; stop them on Ctrl-C", brook::cli::run_up},
    {"status", "the instances of a running launch (brook up -d)", brook::cli::run_status},
    {"logs", "print (-f: follow) an instance's output of a running launch", brook::cli::run_logs},
    {"restart", "rolling restart of a node of a running launch", brook::cli::run_restart},
    {"scale", "set a node's replica count in a running launch: NODE=N", brook::cli::run_scale},
    {"down", "stop a running launch", brook::cli::run_down},
    {"check", "validate a topology file", brook::cli::run_check},
    {"resolve", "print what one node instance runs with, as JSON", brook::cli::run_resolve},
    {"graph", "draw a topology as Graphviz DOT or SVG", brook::cli::run_graph},
    {"ls", "list live instances and their endpoints", brook::cli::run_ls},
    {"stats", "per node and channel counters and rates", brook::cli::run_stats},
    {"tap", "print messages flowing on a channel as JSON lines", brook::cli::run_tap},
    {"send", "inject JSON messages into a channel", brook::cli::run_send},
    {"trace", "show a message's trace hop by hop from the span files", brook::cli::run_trace},
    {"call", "send one request on a request channel and print the reply", brook::cli::run_call},
    {"dead", "list, show and redrive dead letters", brook::cli::run_dead},
    {"record", "record the messages on channels into a file", brook::cli::run_record},
    {"replay", "send a recording's messages into channels again", brook::cli::run_replay},
    {"keygen", "write CURVE keys and the allowlist for a topology", brook::cli::run_keygen},
    {"export", "write systemd units, Kubernetes manifests or a compose file",
     brook::cli::run_export},
};

void usage(std::ostream& out) {
  out << "usage: brook COMMAND [options]   (brook COMMAND --help for each)\n\ncommands:\n";
  for (const auto& c : kSubcommands) {
    out << "  " << c.name << std::string(8 - c.name.size(), ' ') << c.summary << "\n";
  }
  out << "\nexit codes: 0 ok, 1 failed, 2 usage error, 3 directory unreachable\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(std::cerr);
    return brook::cli::kExitUsage;
  }
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    usage(std::cout);
    return brook::cli::kExitOk;
  }
  for (const auto& c : kSubcommands) {
    if (c.name != name) continue;
    brook::cli::Args args{"brook " + std::string(name), {argv + 2, argv + argc}};
    try {
      return c.run(args);
    } catch (const brook::cli::Exit& e) {
      std::cerr << e.what() << "\n";
      return e.code();
    } catch (const brook::Error& e) {
      std::cerr << "brook " << name << ": " << e.what() << "\n";
      return brook::cli::kExitFailed;
    } catch (const std::exception& e) {
      std::cerr << "brook " << name << ": unexpected error: " << e.what() << "\n";
      return brook::cli::kExitFailed;
    }
  }
  std::cerr << "brook: unknown command '" << name << "'\n\n";
  usage(std::cerr);
  return brook::cli::kExitUsage;
}
