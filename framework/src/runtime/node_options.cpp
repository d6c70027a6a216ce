// Command line of every node executable.
#include <boost/program_options.hpp>
#include <brook/node.hpp>
#include <ostream>
#include <sstream>

namespace brook {

namespace po = boost::program_options;

namespace {

po::options_description describe() {
  po::options_description d("Options");
  d.add_options()("help,h", "print this help and exit")("topology,t", po::value<std::string>(),
                                                        "topology file (required)")(
      "node,n", po::value<std::string>(),
      "which node of the topology this process runs (required)")(
      "instance,i", po::value<std::uint32_t>()->default_value(0), "replica number, 0-based")(
      "directory,d", po::value<std::vector<std::string>>()->composing(),
      "directory endpoint; repeat for several (default: the topology's)")(
      "advertise", po::value<std::string>()->default_value("127.0.0.1"),
      "address this node's inputs are registered under: the one peers connect to")(
      "bind", po::value<std::string>(),
      "address or interface inputs bind to, e.g. 0.0.0.0 (default: the --advertise address)")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a topology value, e.g. --set pricing.params.tax=0.2 (repeatable)")(
      "ready-timeout", po::value<std::string>(),
      "how long to hold output waiting for consumers before starting anyway (e.g. 5s)")(
      "drain-timeout", po::value<std::string>(),
      "bound on draining inputs and flushing outputs at shutdown (e.g. 2s)")(
      "log-level", po::value<std::string>()->default_value("info"),
      "trace, debug, info, warn, error or off")(
      "log-format", po::value<std::string>(),
      "text, plain or json (default: the topology's log.format, else $BROOK_LOG_FORMAT, else "
      "text)");
  return d;
}

// The program's own options as Boost.Program_options sees them: every value as text, checked
// against its declared type after parsing (so the message names brook's types, not Boost's).
po::options_description describe(const ProgramOptions& own) {
  po::options_description d(own.caption());
  for (const auto& o : own.options()) {
    if (o.type == OptionType::kFlag) {
      d.add_options()(o.name.c_str(), o.help.c_str());
    } else {
      const std::string help =
          o.help + (o.help.empty() ? "" : " ") + "(" + std::string(to_string(o.type)) + ")";
      d.add_options()(o.name.c_str(), po::value<std::string>(), help.c_str());
    }
  }
  return d;
}

std::chrono::milliseconds duration_arg(const po::variables_map& vm, const char* name) {
  const auto text = vm[name].as<std::string>();
  auto d = parse_duration(text);
  if (!d) {
    throw UsageError(std::string("--") + name + ": expected a duration like 5s or 250ms, got '" +
                     text + "'");
  }
  return *d;
}

}  // namespace

std::string NodeOptions::usage(const ProgramOptions* own_options) {
  std::ostringstream s;
  s << "A brook node: reads its ports, channels and params from a topology file, registers with\n"
       "the directory and runs until SIGINT/SIGTERM.\n\n"
       "usage: <node-executable> --topology FILE --node NAME [--instance N] [options]\n\n"
    << describe();
  if (own_options != nullptr && !own_options->options().empty()) {
    s << "\n" << describe(*own_options);
  }
  return s.str();
}

std::optional<NodeOptions> NodeOptions::parse(int argc, const char* const* argv, std::ostream& out,
                                              const ProgramOptions* own_options) {
  po::variables_map vm;
  po::options_description all = describe();
  if (own_options != nullptr) {
    for (const auto& o : own_options->options()) {
      if (all.find_nothrow(o.name, false) != nullptr) {
        throw UsageError("program option '--" + o.name +
                         "' is also a node option; give it another name");
      }
    }
    all.add(describe(*own_options));
  }
  try {
    po::store(po::command_line_parser(argc, argv).options(all).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  if (vm.count("help")) {
    out << usage(own_options);
    return std::nullopt;
  }
  NodeOptions o;
  if (!vm.count("topology")) throw UsageError("--topology is required");
  if (!vm.count("node")) throw UsageError("--node is required");
  o.topology = vm["topology"].as<std::string>();
  o.node = vm["node"].as<std::string>();
  o.instance = vm["instance"].as<std::uint32_t>();
  if (vm.count("directory")) o.directory = vm["directory"].as<std::vector<std::string>>();
  if (vm.count("set")) o.overrides = vm["set"].as<std::vector<std::string>>();
  o.advertise = vm["advertise"].as<std::string>();
  if (vm.count("bind")) o.bind = vm["bind"].as<std::string>();
  const auto level = parse_log_level(vm["log-level"].as<std::string>());
  if (!level) {
    throw UsageError("--log-level: expected trace, debug, info, warn, error or off, got '" +
                     vm["log-level"].as<std::string>() + "'");
  }
  o.log_level = *level;
  if (vm.count("log-format")) {
    const auto& text = vm["log-format"].as<std::string>();
    o.log_format = parse_log_format(text);
    if (!o.log_format)
      throw UsageError("--log-format: expected text, plain or json, got '" + text + "'");
  }
  if (vm.count("ready-timeout")) o.ready_timeout = duration_arg(vm, "ready-timeout");
  if (vm.count("drain-timeout")) o.drain_timeout = duration_arg(vm, "drain-timeout");
  if (own_options != nullptr) {
    o.own.declare(*own_options);
    for (const auto& opt : own_options->options()) {
      if (!vm.count(opt.name)) continue;
      std::string text = opt.type == OptionType::kFlag ? "" : vm[opt.name].as<std::string>();
      if (auto problem = check_option_value(opt.type, text)) {
        throw UsageError("--" + opt.name + ": " + *problem);
      }
      o.own.set(opt, std::move(text));
    }
  }
  return o;
}

}  // namespace brook
