// brook ls: live instances, their endpoints and lease age, as the directory sees them.
#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "directory_view.hpp"

namespace brook::cli {

int run_ls(const Args& args) {
  po::options_description o;
  add_directory_options(o);
  o.add_options()("topology,t", po::value<std::string>(),
                  "find the directory through this topology")("json", "print one JSON object");
  add_topology_options(o);
  const auto vm =
      parse(args, "[--directory EP | --topology FILE] [--json]",
            "Lists the live instances registered with the directory: pid, host, how\n"
            "long ago they last renewed their lease, and each port's channel/endpoint.\n"
            "With --topology, only that topology's instances (a directory may serve\n"
            "several; their instances are then shown as topology/node.instance).",
            o, {});
  if (!vm) return kExitOk;
  std::optional<Topology> topo;
  if (vm->count("topology")) topo = load((*vm)["topology"].as<std::string>(), *vm);
  DirectoryReader reader(directory_endpoints(*vm, topo ? &*topo : nullptr),
                         cli_security(*vm, topo ? &*topo : nullptr));
  ListReply reply = reader.list();
  const std::string& ep = reader.endpoint();
  if (topo) keep_topology(reply, topo->name);

  if (vm->count("json")) {
    nlohmann::json j{{"directory", ep},
                     {"epoch", reply.state.epoch},
                     {"seq", reply.state.seq},
                     {"uptime_ms", reply.state.uptime_ms}};
    j["instances"] = nlohmann::json::array();
    for (const auto& i : reply.instances) {
      nlohmann::json regs = nlohmann::json::array();
      for (const auto& r : i.registrations)
        regs.push_back(to_json(r));
      j["instances"].push_back({{"topology", i.topology},
                                {"node", i.node},
                                {"instance", i.instance},
                                {"name", i.node + "." + std::to_string(i.instance)},
                                {"incarnation", i.incarnation},
                                {"host", i.host},
                                {"pid", i.pid},
                                {"lease_ms", i.lease_ms},
                                {"age_ms", i.age_ms},
                                {"registered_ms", i.registered_ms},
                                {"registrations", regs}});
    }
    print_json(std::cout, j);
    return kExitOk;
  }

  std::cout << "directory " << ep << "  epoch " << reply.state.epoch << "  up "
            << format_duration_ms(reply.state.uptime_ms) << "  " << reply.instances.size()
            << " instance(s)\n";
  if (reply.instances.empty()) return kExitOk;
  std::cout << std::left << std::setw(20) << "INSTANCE" << std::setw(9) << "PID" << std::setw(16)
            << "HOST" << std::setw(16) << "LEASE AGE/TTL" << std::setw(10) << "UP"
            << "PORTS\n";
  const bool scoped = several_topologies(reply);
  for (const auto& i : reply.instances) {
    std::string ports;
    for (const auto& r : i.registrations) {
      if (!ports.empty()) ports += "  ";
      ports += (r.direction == Direction::kIn ? "<" : ">") + r.channel;
      if (r.tap) ports += "(tap)";
      if (!r.endpoint.empty()) ports += "@" + r.endpoint;
    }
    // Each column gets a trailing space so long values never run into the next one.
    std::cout << std::left << std::setw(20) << (instance_label(i, scoped) + " ") << std::setw(9)
              << (std::to_string(i.pid) + " ") << std::setw(16) << (i.host + " ") << std::setw(16)
              << (format_duration_ms(i.age_ms) + "/" + format_duration_ms(i.lease_ms) + " ")
              << std::setw(10) << (format_duration_ms(i.registered_ms) + " ") << ports << "\n";
  }
  return kExitOk;
}

}  // namespace brook::cli
