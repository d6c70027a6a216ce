// brook status, logs, restart, scale, down: operate a launch started with `brook up -d` (or
// `brook up --run-dir D`) through its run directory (launch/run_dir.hpp) and control socket.
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "commands.hpp"
#include "launch/control_server.hpp"
#include "launch/run_dir.hpp"

namespace brook::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void add_run_dir_options(po::options_description& o) {
  o.add_options()("run-dir", po::value<std::string>(),
                  "the launch's run directory (default: .brook-run/TOPOLOGY, or the only one "
                  "under .brook-run)")("topology,t", po::value<std::string>(),
                                       "the launch of this topology file");
}

// The run directory the options name (see launch::choose_run_dir).
fs::path run_dir_of(const po::variables_map& vm, const std::string& command) {
  std::optional<fs::path> given;
  std::optional<std::string> topology;
  if (vm.count("run-dir")) given = vm["run-dir"].as<std::string>();
  if (vm.count("topology")) {
    LoadOptions lo;
    lo.resolve_execs = false;
    try {
      topology = load_topology(vm["topology"].as<std::string>(), lo).name;
    } catch (const Error& e) {
      throw Exit(kExitUsage, command + ": " + e.what());
    }
  }
  try {
    return launch::choose_run_dir(given, topology, fs::current_path());
  } catch (const UsageError& e) {
    throw Exit(kExitUsage, command + ": " + e.what());
  }
}

// The run directory of a running launch; exit 1 naming it when nothing runs there.
fs::path running_dir(const po::variables_map& vm, const std::string& command) {
  const fs::path dir = run_dir_of(vm, command);
  if (!launch::running_launcher(dir)) {
    throw Exit(kExitFailed, command + ": no launch runs in " + dir.string() +
                                " (it stopped, or was never started there: brook up TOPOLOGY -d)");
  }
  return dir;
}

// Sends one request; prints progress ("say") lines; returns the last other line.
json request(const fs::path& dir, const json& req, const std::string& command) {
  json result;
  try {
    launch::control_request(dir / "control.sock", req, [&](const json& line) {
      if (line.contains("say")) {
        std::cout << line["say"].get<std::string>() << std::endl;
      } else {
        result = line;
      }
    });
  } catch (const Error& e) {
    throw Exit(kExitFailed, command + ": " + e.what());
  }
  if (result.is_null()) {
    throw Exit(kExitFailed, command +
                                ": the launch closed the connection without an answer "
                                "(it is stopping: brook status)");
  }
  if (result.contains("error") && !result.contains("ok")) {
    throw Exit(kExitFailed, command + ": " + result["error"].get<std::string>());
  }
  return result;
}

std::string seconds(std::int64_t ms) {
  char buf[32];
  if (ms < 60'000) {
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000);
  } else if (ms < 3'600'000) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(ms / 60'000),
                  static_cast<long long>(ms / 1000 % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(ms / 3'600'000),
                  static_cast<long long>(ms / 60'000 % 60));
  }
  return buf;
}

int operation(const json& result, const std::string& command) {
  if (result.value("ok", false)) return kExitOk;
  std::cerr << command << ": " << result.value("error", std::string("failed")) << "\n";
  return kExitFailed;
}

}  // namespace

int run_status(const Args& args) {
  po::options_description o;
  add_run_dir_options(o);
  o.add_options()("json", "the launch's answer as one JSON line");
  po::positional_options_description pos;
  pos.add("topology", 1);
  const auto vm =
      parse(args, "[TOPOLOGY | --run-dir D] [--json]",
            "Every instance of a running launch (brook up -d): pid, state, restarts, uptime.\n"
            "Exit 0 when every instance is up (a finished job counts), 1 otherwise or when\n"
            "no launch runs there.",
            o, pos);
  if (!vm) return kExitOk;
  const fs::path dir = running_dir(*vm, "brook status");
  const json s = request(dir, {{"op", "status"}}, "brook status");
  if (vm->count("json")) {
    print_json(std::cout, s);
    return s.value("up", false) ? kExitOk : kExitFailed;
  }
  std::cout << "topology '" << s.value("topology", "") << "' (" << s.value("file", "")
            << "): brook up pid " << s.value("pid", 0) << ", up "
            << seconds(s.value("uptime_ms", std::int64_t{0})) << ", directory "
            << s.value("directory", "") << (s.value("stopping", false) ? ", STOPPING" : "") << "\n";
  std::size_t width = 8;
  for (const auto& i : s["instances"])
    width = std::max(width, i["name"].get<std::string>().size());
  std::printf("%-*s %8s  %-10s %8s %8s  %s\n", static_cast<int>(width), "INSTANCE", "PID", "STATE",
              "RESTARTS", "REPLACED", "UPTIME");
  for (const auto& i : s["instances"]) {
    const int pid = i.value("pid", 0);
    std::printf("%-*s %8s  %-10s %8d %8d  %s\n", static_cast<int>(width),
                i["name"].get<std::string>().c_str(), pid > 0 ? std::to_string(pid).c_str() : "-",
                i.value("state", "").c_str(), i.value("restarts", 0), i.value("replaced", 0),
                pid > 0 ? seconds(i.value("uptime_ms", std::int64_t{0})).c_str() : "-");
  }
  std::fflush(stdout);
  return s.value("up", false) ? kExitOk : kExitFailed;
}

int run_restart(const Args& args) {
  po::options_description o;
  add_run_dir_options(o);
  o.add_options()("node", po::value<std::string>()->required(), "the node to restart");
  po::positional_options_description pos;
  pos.add("node", 1);
  const auto vm = parse(args, "NODE [--run-dir D | -t TOPOLOGY]",
                        "Rolling restart of a node of a running launch: each instance in turn\n"
                        "drains and stops, and a new one starts and is ready before the next.",
                        o, pos);
  if (!vm) return kExitOk;
  const fs::path dir = running_dir(*vm, "brook restart");
  return operation(
      request(dir, {{"op", "restart"}, {"node", (*vm)["node"].as<std::string>()}}, "brook restart"),
      "brook restart");
}

int run_scale(const Args& args) {
  po::options_description o;
  add_run_dir_options(o);
  o.add_options()("count", po::value<std::string>()->required(), "NODE=COUNT");
  po::positional_options_description pos;
  pos.add("count", 1);
  const auto vm = parse(args, "NODE=COUNT [--run-dir D | -t TOPOLOGY]",
                        "Sets the number of replicas of a node of a running launch: new ones\n"
                        "start and are ready before it returns; removed ones (the highest\n"
                        "instances) drain before they stop. The topology file is not changed.",
                        o, pos);
  if (!vm) return kExitOk;
  std::pair<std::string, int> want;
  try {
    want = launch::parse_scale((*vm)["count"].as<std::string>());
  } catch (const UsageError& e) {
    throw Exit(kExitUsage, std::string("brook scale: ") + e.what());
  }
  const fs::path dir = running_dir(*vm, "brook scale");
  return operation(request(dir, {{"op", "scale"}, {"node", want.first}, {"replicas", want.second}},
                           "brook scale"),
                   "brook scale");
}

int run_down(const Args& args) {
  po::options_description o;
  add_run_dir_options(o);
  po::positional_options_description pos;
  pos.add("topology", 1);
  const auto vm = parse(args, "[TOPOLOGY | --run-dir D]",
                        "Stops a running launch as Ctrl-C stops brook up (producers first, each\n"
                        "draining), prints its end report and exits with its exit status.",
                        o, pos);
  if (!vm) return kExitOk;
  const fs::path dir = running_dir(*vm, "brook down");
  const json r = request(dir, {{"op", "down"}}, "brook down");
  // The answer comes just before the launcher exits: wait for it to be gone, so a brook up of the
  // same run directory right after this is not refused.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (launch::running_launcher(dir) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return r.value("exit", kExitFailed);
}

int run_logs(const Args& args) {
  po::options_description o;
  add_run_dir_options(o);
  o.add_options()("follow,f", "keep printing what is appended, until Ctrl-C")(
      "instance", po::value<std::string>(), "NODE or NODE.INSTANCE");
  po::positional_options_description pos;
  pos.add("instance", 1);
  const auto vm =
      parse(args, "[NODE[.INSTANCE]] [-f] [--run-dir D | -t TOPOLOGY]",
            "Prints the output of a node's instances (NODE), one instance (NODE.I), or without\n"
            "NODE the launch's own log (brook.log: everything, prefixed). Logs stay in the run\n"
            "directory after the launch stopped, until the next one starts there.",
            o, pos);
  if (!vm) return kExitOk;
  const fs::path dir = run_dir_of(*vm, "brook logs");
  std::vector<std::pair<std::string, fs::path>> files;  // prefix (empty: none), file
  std::string node;
  std::optional<std::uint32_t> instance;
  if (vm->count("instance")) {
    std::tie(node, instance) = launch::parse_instance((*vm)["instance"].as<std::string>());
  }
  auto find_files = [&] {
    std::vector<std::pair<std::string, fs::path>> out;
    if (node.empty()) {
      out.emplace_back("", dir / "brook.log");
      return out;
    }
    std::map<std::uint32_t, fs::path> by_instance;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir / "logs", ec)) {
      const std::string f = e.path().filename().string();
      if (f.rfind(node + ".", 0) != 0 || !f.ends_with(".log")) continue;
      const auto [n, i] = launch::parse_instance(f.substr(0, f.size() - 4));
      if (n == node && i && (!instance || *i == *instance)) by_instance[*i] = e.path();
    }
    for (const auto& [i, p] : by_instance)
      out.emplace_back(by_instance.size() > 1 ? node + "." + std::to_string(i) + " | " : "", p);
    return out;
  };
  files = find_files();
  if (files.empty() || !fs::exists(files.front().second)) {
    std::string have;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir / "logs", ec))
      have += (have.empty() ? "" : ", ") + e.path().stem().string();
    throw Exit(
        kExitFailed,
        "brook logs: no log of " +
            (node.empty() ? std::string("the launcher") : (*vm)["instance"].as<std::string>()) +
            " in " + dir.string() + (have.empty() ? std::string() : " (instances: " + have + ")"));
  }
  std::map<fs::path, std::pair<std::streamoff, std::string>> pos_of;  // offset, partial line
  auto print_new = [&] {
    for (const auto& [prefix, path] : files) {
      std::ifstream in(path, std::ios::binary);
      auto& [off, partial] = pos_of[path];
      in.seekg(off);
      std::string chunk((std::istreambuf_iterator<char>(in)), {});
      off += static_cast<std::streamoff>(chunk.size());
      partial += chunk;
      std::size_t start = 0;
      for (auto nl = partial.find('\n'); nl != std::string::npos; nl = partial.find('\n', start)) {
        std::cout << prefix << std::string_view(partial).substr(start, nl - start + 1);
        start = nl + 1;
      }
      partial.erase(0, start);
    }
    std::cout.flush();
  };
  print_new();
  if (!vm->count("follow")) return kExitOk;
  const int in = ::inotify_init1(IN_CLOEXEC);
  if (in >= 0) {
    ::inotify_add_watch(in, dir.c_str(), IN_MODIFY | IN_CREATE);
    ::inotify_add_watch(in, (dir / "logs").c_str(), IN_MODIFY | IN_CREATE);
  }
  for (;;) {
    // A change wakes us at once; the timeout also covers a file system without inotify.
    pollfd p{in, POLLIN, 0};
    if (::poll(&p, in >= 0 ? 1 : 0, 1000) > 0) {
      char buf[4096];
      (void)!::read(in, buf, sizeof buf);
    }
    if (!node.empty() && !instance) files = find_files();  // brook scale adds instances
    print_new();
  }
}

}  // namespace brook::cli
