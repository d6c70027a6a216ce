// brook up TOPOLOGY: runs the directory and every node of a topology (launch/launcher.hpp).
#include <brook/log.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "launch/detach.hpp"
#include "launch/launch_plan.hpp"
#include "launch/launcher.hpp"
#include "launch/node_command.hpp"
#include "topology/exec.hpp"

namespace brook::cli {

namespace {

std::set<std::string> split_names(const std::vector<std::string>& values) {
  std::set<std::string> out;
  for (const auto& v : values) {
    std::stringstream s(v);
    std::string name;
    while (std::getline(s, name, ',')) {
      if (!name.empty()) out.insert(name);
    }
  }
  return out;
}

std::string path_variable() {
  const char* path = std::getenv("PATH");
  return path == nullptr ? std::string() : std::string(path);
}

// The host named by --host, checked against the topology's hosts; nullptr without --host.
const HostSpec* choose_host(const Topology& t, const po::variables_map& vm) {
  std::string names;
  for (const auto& h : t.hosts)
    names += (names.empty() ? "" : ", ") + h.name;
  if (!vm.count("host")) {
    if (t.hosts.empty()) return nullptr;
    throw Exit(kExitUsage, "brook up: topology '" + t.name + "' declares hosts (" + names +
                               "): pass --host NAME to run one host's share");
  }
  const std::string name = vm["host"].as<std::string>();
  if (t.hosts.empty()) {
    throw Exit(kExitUsage, "brook up: --host " + name + ": topology '" + t.name +
                               "' declares no hosts: (see docs/topology.md#hosts), or use "
                               "--only and --advertise");
  }
  const HostSpec* h = t.host(name);
  if (h == nullptr) {
    throw Exit(kExitUsage, "brook up: --host: no host '" + name + "' in topology '" + t.name +
                               "' (hosts: " + names + ")");
  }
  for (const char* clash : {"advertise", "bind"}) {
    if (vm.count(clash)) {
      throw Exit(kExitUsage, std::string("brook up: --host takes the host's address and bind "
                                         "from the topology; drop --") +
                                 clash + " (or change hosts." + name + ")");
    }
  }
  return h;
}

// The nodes with an instance on `host`, among `only` when it is not empty.
std::set<std::string> nodes_on(const Topology& t, const HostSpec& host,
                               const std::set<std::string>& only) {
  std::set<std::string> out;
  for (const auto& n : t.nodes) {
    if (!only.empty() && !only.count(n.name)) continue;
    for (int i = 0; i < n.replicas; ++i) {
      const std::string* h = n.host_of(i);
      if (h != nullptr && *h == host.name) out.insert(n.name);
    }
  }
  return out;
}

}  // namespace

int run_up(const Args& args) {
  po::options_description o;
  add_topology_options(o);
  o.add_options()(
      "only", po::value<std::vector<std::string>>()->composing(),
      "start only these nodes (comma-separated, repeatable): run one topology across hosts")(
      "detach,d",
      "start everything, then run in the background (docs/cli.md#in-the-background-brook-up--d)")(
      "run-dir", po::value<std::string>(),
      "run directory (control socket, logs); default .brook-run/TOPOLOGY with -d, none "
      "otherwise")("directory", po::value<std::string>(),
                   "use the directory running at this endpoint instead of starting one")(
      "no-directory", "do not start a directory (another host runs it)")(
      "quiet,q", "no live status lines")("no-color", "no colours in prefixes")(
      "log-level", po::value<std::string>()->default_value("info"), "passed to every node")(
      "log-format", po::value<std::string>(),
      "text or json: json passes every node's JSON lines through as they are (default: the "
      "topology's log.format)")(
      "host", po::value<std::string>(),
      "run the share of this host of the topology's hosts: its instances and directories")(
      "advertise", po::value<std::string>(),
      "address nodes register their inputs under (default 127.0.0.1; multi-host runs without "
      "hosts:)")(
      "bind", po::value<std::string>(),
      "address or interface nodes bind their inputs to (default: the advertise address)")(
      "drain-limit", po::value<std::string>()->default_value("60s"),
      "after the jobs finished, stop anyway when the pipeline has not drained within this")(
      "topology", po::value<std::string>()->required(), "topology file");
  po::positional_options_description pos;
  pos.add("topology", 1);
  const auto vm =
      parse(args,
            "TOPOLOGY [-d] [--run-dir D] [--set path=value]... [--host NAME] [--only n1,n2] "
            "[--directory EP] [--quiet]",
            "Starts the topology's directory (unless external) and every replica of its\n"
            "nodes, consumers first, prefixing their output with 'node.instance |'.\n"
            "Failed nodes are restarted by their restart policy. Ctrl-C or SIGTERM stops\n"
            "everything, producers first. With -d it goes to the background once ready\n"
            "(brook status, logs, restart, scale and down operate it). When the topology\n"
            "has jobs, exits once they all finished and the pipeline drained.\n"
            "Exit 0 when no node failed; 1 when one failed (a name clash included)\n"
            "or a job topology dead-lettered, discarded or\n"
            "dropped messages; 141 when stdout was closed (brook up ... | head).",
            o, pos);
  if (!vm) return kExitOk;

  launch::LaunchOptions lo;
  lo.topology = std::make_shared<const Topology>(load((*vm)["topology"].as<std::string>(), *vm));
  const Topology& t = *lo.topology;
  if (vm->count("set")) lo.overrides = (*vm)["set"].as<std::vector<std::string>>();
  if (vm->count("only")) lo.only = split_names((*vm)["only"].as<std::vector<std::string>>());
  try {
    (void)launch::start_levels(t, lo.only);  // an unknown --only node is named before anything runs
  } catch (const UsageError& e) {
    throw Exit(kExitUsage, std::string("brook up: ") + e.what());
  }
  const HostSpec* host = choose_host(t, *vm);
  if (host != nullptr) {
    lo.host = host->name;
    lo.only = nodes_on(t, *host, lo.only);
    lo.advertise = host->address;
    if (!host->bind.empty()) lo.bind = host->bind;
  }
  std::string missing;
  for (const auto& n : t.nodes) {
    if ((host != nullptr || !lo.only.empty()) && !lo.only.count(n.name)) continue;
    if (!n.exec_path.empty()) continue;
    // The loader's rule again, for its words: brook check said the same in its warning.
    const auto found =
        detail::find_exec(n.exec, t.file.parent_path(), exec_search_path(), path_variable());
    missing += "\n  " + n.where.str() + ": node '" + n.name + "': " + found.problem +
               " (hint: " + found.hint + ")";
  }
  if (!missing.empty()) throw Exit(kExitFailed, "brook up: cannot start:" + missing);
  lo.directory = directory_option(*vm);
  if (!t.directory.external && !lo.directory && !vm->count("no-directory")) {
    // Without hosts every listed directory runs here; with them, those at this host's address.
    lo.directories = t.directory.endpoints;
    if (host != nullptr) {
      lo.directories.clear();
      for (const auto& ep : t.directory_endpoints_on(*host))
        lo.directories.push_back(launch::directory_bind_on(*host, ep));
    }
  }
  if (!lo.directories.empty()) {
    lo.directory_program =
        detail::find_exec("brook-directory", {}, exec_search_path(), path_variable()).path;
    if (lo.directory_program.empty()) {
      throw Exit(kExitFailed,
                 "brook up: brook-directory not found next to brook, in BROOK_PATH or "
                 "PATH (build it, or pass --directory EP to use a running one)");
    }
  }
  lo.log_level = (*vm)["log-level"].as<std::string>();
  if (vm->count("advertise")) lo.advertise = (*vm)["advertise"].as<std::string>();
  if (vm->count("bind")) lo.bind = (*vm)["bind"].as<std::string>();
  if (!parse_log_level(lo.log_level)) {
    throw Exit(kExitUsage,
               "brook up: --log-level: expected trace, debug, info, warn, error or off");
  }
  if (vm->count("log-format")) {
    const auto f = parse_log_format((*vm)["log-format"].as<std::string>());
    if (!f || *f == LogFormat::kPlain) {
      throw Exit(kExitUsage, "brook up: --log-format: expected text or json");
    }
    lo.log_format = *f;
  } else if (lo.topology->log.format == LogFormat::kJson) {
    lo.log_format = LogFormat::kJson;
  }
  const auto drain = parse_duration((*vm)["drain-limit"].as<std::string>());
  if (!drain) throw Exit(kExitUsage, "brook up: --drain-limit expects a duration like 60s");
  lo.drain_limit = *drain;
  lo.detached = vm->count("detach") > 0;
  lo.status = !lo.detached && stdout_is_tty() && !vm->count("quiet");
  lo.color = !lo.detached && stdout_is_tty() && !vm->count("no-color");
  if (lo.detached || vm->count("run-dir")) {
    const std::filesystem::path dir =
        vm->count("run-dir") ? std::filesystem::path((*vm)["run-dir"].as<std::string>())
                             : launch::default_run_dir(t.name + (host ? "." + host->name : ""),
                                                       std::filesystem::current_path());
    try {
      lo.run_dir = std::make_shared<launch::RunDir>(std::filesystem::absolute(dir));
    } catch (const Error& e) {
      throw Exit(kExitFailed, std::string("brook up: ") + e.what());
    }
  }
  if (lo.detached) {
    if (const auto code = launch::detach(*lo.run_dir, t.name)) return *code;
  }
  try {
    launch::Launcher launcher(std::move(lo));
    return launcher.run();  // 0, 1 (kExitFailed) or 141 (stdout closed)
  } catch (const UsageError& e) {
    throw Exit(kExitUsage, std::string("brook up: ") + e.what());
  }
}

}  // namespace brook::cli
