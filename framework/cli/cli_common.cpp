#include "cli_common.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "topology/endpoint.hpp"

namespace brook::cli {

namespace fs = std::filesystem;

std::optional<po::variables_map> parse(const Args& args, const std::string& synopsis,
                                       const std::string& description,
                                       const po::options_description& options,
                                       const po::positional_options_description& positional) {
  po::options_description all("Options");
  all.add_options()("help,h", "print this help and exit");
  all.add(options);
  auto usage = [&] {
    std::ostringstream s;
    s << "usage: " << args.program << " " << synopsis << "\n\n" << description << "\n\n" << all;
    return s.str();
  };
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args.argv).options(all).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << usage();
      return std::nullopt;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw Exit(kExitUsage, args.program + ": " + e.what() + "\n\n" + usage());
  }
  return vm;
}

void add_directory_options(po::options_description& d) {
  d.add_options()("directory,d", po::value<std::vector<std::string>>()->composing(),
                  "directory endpoint; repeat (or separate with commas) for redundant "
                  "directories, asked in order (default: the topology's, else $BROOK_DIRECTORY, "
                  "else tcp://127.0.0.1:5670)")(
      "keys", po::value<std::string>(),
      "CURVE key directory written by brook keygen (default: the topology's security.keys, "
      "else $BROOK_KEYS; none: no security)")(
      "key-file", po::value<std::string>(),
      "secret key file to use (default: KEYS/cli.key_secret)");
}

SecuritySpec cli_security_spec(const po::variables_map& vm, const Topology* topology) {
  SecuritySpec spec;
  if (vm.count("keys")) {
    spec.mechanism = Mechanism::kCurve;
    spec.keys = fs::absolute(vm["keys"].as<std::string>());
  } else if (topology != nullptr && topology->security.mechanism == Mechanism::kCurve) {
    spec = topology->security;
  } else if (const char* env = std::getenv("BROOK_KEYS"); env != nullptr && *env != '\0') {
    spec.mechanism = Mechanism::kCurve;
    spec.keys = fs::absolute(env);
  }
  return spec;
}

Security cli_security(const po::variables_map& vm, const Topology* topology) {
  try {
    return Security::load(
        cli_security_spec(vm, topology), std::string(kCliIdentity),
        vm.count("key-file") ? fs::path(vm["key-file"].as<std::string>()) : fs::path());
  } catch (const Error& e) {
    throw Exit(kExitUsage, e.what());
  }
}

std::string tool_node_name(const std::string& tool, bool curve) {
  const std::string name = tool + "-" + std::to_string(::getpid());
  return curve ? std::string(kCliIdentity) + "-" + name : name;  // is_tool_node()
}

void add_topology_options(po::options_description& d) {
  d.add_options()("set", po::value<std::vector<std::string>>()->composing(),
                  "override a topology value, e.g. --set pricing.replicas=3 (repeatable)");
}

namespace {
// A usage error for an endpoint libzmq would refuse with a bare "Invalid argument"; a port
// alone or host:port gets the endpoint it probably means.
std::string checked_endpoint(std::string ep, const std::string& from) {
  if (detail::valid_endpoint(ep)) return ep;
  std::string guess;
  if (!ep.empty() && ep.find_first_not_of("0123456789") == std::string::npos) {
    guess = "tcp://127.0.0.1:" + ep;
  } else if (ep.find("://") == std::string::npos && ep.find(':') != std::string::npos) {
    guess = "tcp://" + ep;
  }
  if (!guess.empty() && !detail::valid_endpoint(guess)) guess.clear();
  throw Exit(kExitUsage, from + " '" + ep + "' is not a directory endpoint: " +
                             std::string(detail::kEndpointHint) +
                             (guess.empty() ? std::string() : " (did you mean " + guess + "?)"));
}

// Each non-empty item of a comma-separated list, checked.
void append_endpoints(std::vector<std::string>& out, std::string_view list,
                      const std::string& from) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto part = list.substr(0, comma);
    if (!part.empty()) out.push_back(checked_endpoint(std::string(part), from));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

std::optional<std::string> directory_option(const po::variables_map& vm) {
  if (!vm.count("directory")) return std::nullopt;
  return checked_endpoint(vm["directory"].as<std::string>(), "--directory");
}

std::vector<std::string> directory_options(const po::variables_map& vm) {
  std::vector<std::string> out;
  if (vm.count("directory")) {
    for (const auto& v : vm["directory"].as<std::vector<std::string>>())
      append_endpoints(out, v, "--directory");
    if (out.empty()) checked_endpoint("", "--directory");  // throws: `--directory ''`
  }
  return out;
}

std::vector<std::string> directory_endpoints(const po::variables_map& vm,
                                             const Topology* topology) {
  if (auto eps = directory_options(vm); !eps.empty()) return eps;
  if (topology != nullptr && !topology->directory.endpoints.empty())
    return topology->directory.endpoints;
  std::vector<std::string> out;
  if (const char* env = std::getenv("BROOK_DIRECTORY"); env != nullptr)
    append_endpoints(out, env, "$BROOK_DIRECTORY");
  if (out.empty()) out.emplace_back("tcp://127.0.0.1:5670");
  return out;
}

fs::path self_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : exe.parent_path();
}

std::vector<fs::path> exec_search_path() {
  std::vector<fs::path> dirs{self_dir()};
  if (const char* env = std::getenv("BROOK_PATH"); env != nullptr) {
    std::string_view rest(env);
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      const auto part = rest.substr(0, colon);
      if (!part.empty()) dirs.emplace_back(std::string(part));
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  return dirs;
}

Topology load(const fs::path& file, const po::variables_map& vm) {
  LoadOptions lo;
  if (vm.count("set")) lo.overrides = vm["set"].as<std::vector<std::string>>();
  lo.exec_search_path = exec_search_path();
  try {
    return load_topology(file, lo);
  } catch (const TopologyError& e) {
    std::ostringstream s;
    for (const auto& d : e.diagnostics())
      s << d.str() << "\n";
    s << e.diagnostics().size() << " error(s) in " << file.string();
    throw Exit(kExitFailed, s.str());
  } catch (const Error& e) {
    throw Exit(kExitUsage, e.what());
  }
}

bool stdout_is_tty() {
  return ::isatty(STDOUT_FILENO) == 1;
}

void print_json(std::ostream& out, const nlohmann::json& j) {
  out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

std::string format_rate(double per_second) {
  char buf[32];
  if (per_second >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.1fM/s", per_second / 1e6);
  } else if (per_second >= 1e4) {
    std::snprintf(buf, sizeof buf, "%.0fk/s", per_second / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f/s", per_second);
  }
  return buf;
}

std::string format_duration_ms(std::uint64_t ms) {
  char buf[32];
  if (ms < 10'000) {
    std::snprintf(buf, sizeof buf, "%llums", static_cast<unsigned long long>(ms));
  } else if (ms < 3'600'000) {
    std::snprintf(buf, sizeof buf, "%llus", static_cast<unsigned long long>(ms / 1000));
  } else {
    std::snprintf(buf, sizeof buf, "%lluh%02llum", static_cast<unsigned long long>(ms / 3'600'000),
                  static_cast<unsigned long long>(ms / 60'000 % 60));
  }
  return buf;
}

}  // namespace brook::cli
