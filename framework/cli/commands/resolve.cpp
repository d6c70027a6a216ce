// brook resolve TOPOLOGY --node NAME: what one node instance runs with, as JSON
// (resolved_view.hpp), for nodes written in other languages.
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "resolved_view.hpp"

namespace brook::cli {

int run_resolve(const Args& args) {
  po::options_description o;
  add_topology_options(o);
  o.add_options()("node,n", po::value<std::string>()->required(), "the node to resolve")(
      "instance,i", po::value<std::string>()->default_value("0"), "replica number, 0-based")(
      "directory,d", po::value<std::vector<std::string>>()->composing(),
      "directory endpoint the node is given (repeatable; default: the topology's)")(
      "advertise", po::value<std::string>(),
      "address the node registers its inputs under (default: the node's, 127.0.0.1)")(
      "bind", po::value<std::string>(),
      "address or interface the node binds its inputs to (default: the advertise address)")(
      "json", "print one compact JSON document (default: indented)")(
      "topology", po::value<std::string>()->required(), "topology file");
  po::positional_options_description pos;
  pos.add("topology", 1);
  const auto vm =
      parse(args, "TOPOLOGY --node NAME [--instance I] [--set path=value]... [--json]",
            "Prints what instance I of node NAME runs with when started with these options: its\n"
            "params, ports, channels, directory, security and timeouts after ${VAR} substitution,\n"
            "--set overrides and defaults (docs/cli.md, \"brook resolve\"). For nodes in other\n"
            "languages; brook up gives each node this document in $BROOK_RESOLVED.\n"
            "Exit 0; 2 for a bad topology, an unknown node or an instance out of range.",
            o, pos);
  if (!vm) return kExitOk;

  const std::string instance = (*vm)["instance"].as<std::string>();
  // Checked here: the node's parser reads "-1" as 4294967295, which would only be out of range.
  if (instance.empty() || instance.find_first_not_of("0123456789") != std::string::npos) {
    throw Exit(kExitUsage, "brook resolve: --instance expects a replica number (0, 1, ...), got '" +
                               instance + "'");
  }
  // The node's own command line, parsed by the node's own parser: its defaults (advertise) and
  // checks (instance) are the ones a node process applies.
  std::vector<std::string> argv{args.program,
                                "--topology",
                                (*vm)["topology"].as<std::string>(),
                                "--node",
                                (*vm)["node"].as<std::string>(),
                                "--instance",
                                instance};
  if (vm->count("directory")) {
    for (const auto& ep : (*vm)["directory"].as<std::vector<std::string>>())
      argv.insert(argv.end(), {"--directory", ep});
  }
  for (const char* o : {"advertise", "bind"}) {
    if (vm->count(o)) argv.insert(argv.end(), {std::string("--") + o, (*vm)[o].as<std::string>()});
  }
  if (vm->count("set")) {
    for (const auto& s : (*vm)["set"].as<std::vector<std::string>>())
      argv.insert(argv.end(), {"--set", s});
  }
  nlohmann::json doc;
  try {
    doc = resolve_instance(node_options(argv));
  } catch (const TopologyError& e) {
    std::ostringstream s;
    for (const auto& d : e.diagnostics())
      s << d.str() << "\n";
    s << e.diagnostics().size() << " error(s) in " << (*vm)["topology"].as<std::string>();
    throw Exit(kExitUsage, s.str());
  } catch (const Error& e) {
    throw Exit(kExitUsage, std::string("brook resolve: ") + e.what());
  }
  if (vm->count("json")) {
    print_json(std::cout, doc);
  } else {
    std::cout << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  return kExitOk;
}

}  // namespace brook::cli
