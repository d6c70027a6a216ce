// brook check TOPOLOGY: the loader's validation report; exit 1 when there is an error.
#include <iostream>

#include "commands.hpp"

namespace brook::cli {

namespace {

nlohmann::json to_json(const Diagnostic& d) {
  return {{"file", d.where.file}, {"line", d.where.line}, {"column", d.where.column},
          {"message", d.message}, {"hint", d.hint},       {"text", d.str()}};
}

int instance_count(const Topology& t) {
  int n = 0;
  for (const auto& node : t.nodes)
    n += node.replicas;
  return n;
}

}  // namespace

int run_check(const Args& args) {
  po::options_description o;
  add_topology_options(o);
  o.add_options()("json", "print the report as one JSON object")(
      "topology", po::value<std::string>()->required(), "topology file");
  po::positional_options_description pos;
  pos.add("topology", 1);
  const auto vm = parse(args, "TOPOLOGY [--set path=value]... [--json]",
                        "Validates a topology file: keys, types, channels, wiring, executables.\n"
                        "Exit 0 when valid (warnings allowed), 1 when there are errors.",
                        o, pos);
  if (!vm) return kExitOk;
  const std::string file = (*vm)["topology"].as<std::string>();
  const bool json = vm->count("json") > 0;

  LoadOptions lo;
  if (vm->count("set")) lo.overrides = (*vm)["set"].as<std::vector<std::string>>();
  lo.exec_search_path = exec_search_path();
  std::vector<Diagnostic> errors;
  std::vector<Diagnostic> warnings;
  std::optional<Topology> topology;
  try {
    topology = load_topology(file, lo);
    warnings = topology->warnings;
  } catch (const TopologyError& e) {
    errors = e.diagnostics();
    warnings = e.warnings();
  } catch (const Error& e) {
    if (json) {
      print_json(std::cout, {{"ok", false},
                             {"file", file},
                             {"errors",
                              {{{"file", file},
                                {"line", 0},
                                {"column", 0},
                                {"message", e.what()},
                                {"hint", ""},
                                {"text", e.what()}}}},
                             {"warnings", nlohmann::json::array()}});
      return kExitUsage;
    }
    throw Exit(kExitUsage, std::string("brook check: ") + e.what());
  }

  if (json) {
    nlohmann::json j{{"ok", errors.empty()}, {"file", file}};
    j["errors"] = nlohmann::json::array();
    for (const auto& d : errors)
      j["errors"].push_back(to_json(d));
    j["warnings"] = nlohmann::json::array();
    for (const auto& d : warnings)
      j["warnings"].push_back(to_json(d));
    if (topology) {
      j["topology"] = topology->name;
      j["nodes"] = topology->nodes.size();
      j["instances"] = instance_count(*topology);
      j["channels"] = topology->channels.size();
    }
    print_json(std::cout, j);
  } else {
    for (const auto& d : errors)
      std::cerr << d.str() << "\n";
    for (const auto& d : warnings)
      std::cerr << d.str() << "\n";
    if (topology) {
      std::cout << file << ": ok: topology '" << topology->name << "', " << topology->nodes.size()
                << " nodes (" << instance_count(*topology) << " instances), "
                << topology->channels.size() << " channels";
      if (!warnings.empty()) std::cout << ", " << warnings.size() << " warning(s)";
      std::cout << "\n";
    } else {
      std::cerr << file << ": " << errors.size() << " error(s)";
      if (!warnings.empty()) std::cerr << ", " << warnings.size() << " warning(s)";
      std::cerr << "\n";
    }
  }
  return errors.empty() ? kExitOk : kExitFailed;
}

}  // namespace brook::cli
