// brook-directory: discovery for brook nodes (docs/directory.md).
#include <boost/program_options.hpp>
#include <brook/error.hpp>
#include <brook/log.hpp>
#include <brook/topology.hpp>
#include <iostream>
#include <memory>
#include <optional>

#include "directory_server.hpp"
#include "http_listener.hpp"
#include "util/fd_limit.hpp"
#include "util/lifecycle.hpp"

namespace po = boost::program_options;

namespace {

std::chrono::milliseconds duration_option(const po::variables_map& vm, const char* name) {
  const auto text = vm[name].as<std::string>();
  auto d = brook::parse_duration(text);
  if (!d || d->count() <= 0) {
    throw brook::UsageError(std::string("--") + name +
                            ": expected a duration like 3s or 500ms, got '" + text + "'");
  }
  return *d;
}

// Two descriptors per node (its request and its watch connection) and a margin: raised to what
// --max-instances nodes take, as far as the hard limit allows. Too low for the instances of the
// directory's own topology: an error now rather than refused connections later.
void raise_fd_limit(std::size_t max_instances, const brook::DeclaredNodes& declared) {
  std::uint64_t own = 0;
  for (const auto& [node, replicas] : declared.replicas)
    own += replicas;
  const auto needs = [](std::uint64_t instances) { return 2 * instances + 64; };
  const auto limit = brook::detail::raise_fd_limit(needs(max_instances));
  if (limit.soft == 0 || limit.soft >= needs(max_instances)) return;
  if (limit.soft < needs(own)) {
    throw brook::ConfigError(
        "topology '" + declared.topology + "' has " + std::to_string(own) +
        " instances, whose connections take " + std::to_string(needs(own)) +
        " open files, and the hard limit is " + std::to_string(limit.hard) +
        " (raise it: ulimit -Hn as root, LimitNOFILE= in a systemd unit, nofile in "
        "/etc/security/limits.conf)");
  }
  BROOK_LOG(kInfo) << "open-file limit " << limit.soft << " (the hard limit): room for about "
                   << (limit.soft - 64) / 2
                   << " instances' connections, fewer than --max-instances " << max_instances;
}

// What the HTTP listener's snapshots say of the topology the directory serves.
brook::MonitoredTopology monitored_topology(const brook::Topology& t) {
  brook::MonitoredTopology m;
  m.name = t.name;
  for (const auto& c : t.channels) {
    const bool request = c.pattern == brook::Pattern::kRequest;
    m.channels[c.name] = {std::string(brook::to_string(c.pattern)),
                          request ? std::string() : std::string(brook::to_string(c.delivery))};
  }
  for (const auto& n : t.nodes) {
    m.replicas[n.name] = static_cast<std::uint32_t>(n.replicas);
    for (const auto& p : n.inputs)
      m.consumers[p.channel].push_back(n.name);
    for (const auto& p : n.outputs)
      m.producers[p.channel].push_back(n.name);
  }
  return m;
}

int run(int argc, char** argv) {
  po::options_description desc(
      "brook-directory: registrations with leases and change notifications for brook nodes.\n"
      "Nodes bind ephemeral endpoints, register them here and watch the channels they use;\n"
      "no message data flows through the directory.\n\nOptions");
  desc.add_options()("help,h", "print this help and exit")(
      "keys", po::value<std::string>(),
      "CURVE: the key directory written by brook keygen (default: the topology's security)")(
      "bind", po::value<std::string>(),
      "ROUTER endpoint for requests (default: the topology's first directory endpoint, else "
      "tcp://127.0.0.1:5670; use port * for an ephemeral port)")(
      "pub-bind", po::value<std::string>(),
      "PUB endpoint for change notifications (default: same host as --bind, ephemeral port; "
      "clients learn it from the hello reply)")(
      "topology", po::value<std::string>(), "read endpoint, ttl and heartbeat from this topology")(
      "set", po::value<std::vector<std::string>>()->composing(), "topology override key=value")(
      "ttl", po::value<std::string>(), "default lease TTL (default 3s, or the topology's)")(
      "heartbeat", po::value<std::string>(), "heartbeat period told to nodes (default 1s)")(
      "http", po::value<std::string>(),
      "serve /metrics, /health, /api/topology and the dashboard at ADDRESS:PORT (port 0: any "
      "free one; a bare PORT means 127.0.0.1:PORT; off: none; default: the topology's "
      "directory.http, else none)")("max-instances", po::value<std::size_t>()->default_value(10000),
                                    "refuse registrations beyond this many instances")(
      "log-level", po::value<std::string>()->default_value("info"),
      "trace, debug, info, warn, error or off")(
      "log-format", po::value<std::string>(),
      "text, plain or json (default: the topology's log.format, else $BROOK_LOG_FORMAT, else "
      "text)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "brook-directory: " << e.what() << "\n(see brook-directory --help)\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  try {
    const auto level = brook::parse_log_level(vm["log-level"].as<std::string>());
    if (!level) throw brook::UsageError("--log-level: expected trace|debug|info|warn|error|off");
    brook::set_log_level(*level);
    brook::set_log_identity("directory");
    std::optional<brook::LogFormat> format;
    if (vm.count("log-format")) {
      format = brook::parse_log_format(vm["log-format"].as<std::string>());
      if (!format) throw brook::UsageError("--log-format: expected text, plain or json");
      brook::set_log_format(*format);
    }

    brook::DirectoryServerOptions opts;
    std::chrono::milliseconds handshake = brook::kDefaultHandshakeTimeout;
    std::string http;         // ADDRESS:PORT, "" = no HTTP listener
    std::string http_origin;  // where it came from, for errors
    if (vm.count("topology")) {
      brook::LoadOptions lo;
      lo.resolve_execs = false;
      if (vm.count("set")) lo.overrides = vm["set"].as<std::vector<std::string>>();
      const auto topo = brook::load_topology(vm["topology"].as<std::string>(), lo);
      if (!format && topo.log.format) brook::set_log_format(*topo.log.format);
      if (!topo.directory.endpoints.empty()) opts.bind = topo.directory.endpoints.front();
      opts.config.default_ttl = topo.directory.ttl;
      opts.config.heartbeat = topo.directory.heartbeat;
      opts.declared.topology = topo.name;
      for (const auto& n : topo.nodes)
        opts.declared.replicas[n.name] = static_cast<std::uint32_t>(n.replicas);
      if (!vm.count("keys")) {
        opts.security =
            brook::Security::load(topo.security, std::string(brook::kDirectoryIdentity));
      }
      handshake = topo.security.handshake_timeout;
      if (!topo.directory.http.empty()) {
        http = topo.directory.http;
        http_origin = "directory.http in " + topo.directory.where.str();
      }
      opts.topology = monitored_topology(topo);
    }
    if (vm.count("keys")) {
      brook::SecuritySpec spec;
      spec.mechanism = brook::Mechanism::kCurve;
      spec.keys = vm["keys"].as<std::string>();
      spec.handshake_timeout = handshake;
      opts.security = brook::Security::load(spec, std::string(brook::kDirectoryIdentity));
    }
    if (vm.count("bind")) opts.bind = vm["bind"].as<std::string>();
    if (vm.count("pub-bind")) opts.pub_bind = vm["pub-bind"].as<std::string>();
    if (vm.count("ttl")) opts.config.default_ttl = duration_option(vm, "ttl");
    if (vm.count("heartbeat")) opts.config.heartbeat = duration_option(vm, "heartbeat");
    if (opts.config.heartbeat >= opts.config.default_ttl) {
      throw brook::UsageError("--heartbeat must be shorter than --ttl");
    }
    opts.config.min_ttl = std::min(opts.config.min_ttl, opts.config.default_ttl);
    opts.config.max_instances = vm["max-instances"].as<std::size_t>();
    raise_fd_limit(opts.config.max_instances, opts.declared);

    if (vm.count("http")) {
      http = vm["http"].as<std::string>();
      http_origin = "--http";
      if (http == "off") http.clear();
    }
    std::optional<brook::detail::HttpAddress> http_address;
    if (!http.empty()) {
      std::string why;
      http_address = brook::detail::parse_http_address(http, why);
      if (!http_address) {
        throw brook::UsageError(http_origin + ": " + why + " (" +
                                std::string(brook::detail::kHttpAddressHint) + ")");
      }
      opts.snapshots = std::make_shared<brook::SnapshotBox>();
    }
    auto snapshots = opts.snapshots;

    brook::StopSignal stop;
    brook::DirectoryServer server(std::move(opts));
    std::unique_ptr<brook::HttpListener> listener;
    std::string ready = "router=" + server.endpoint() + " pub=" + server.pub_endpoint() +
                        " epoch=" + server.epoch();
    if (http_address) {
      listener = std::make_unique<brook::HttpListener>(*http_address, snapshots, http_origin);
      BROOK_LOG(kInfo) << "http: " << listener->url() << " (metrics at " << listener->url()
                       << "metrics)";
      ready += " http=" + listener->url();
    }
    brook::notify_ready(ready);
    server.run(stop);
    return 0;
  } catch (const brook::TopologyError& e) {
    std::cerr << e.what() << "\n";
    return 2;
  } catch (const brook::UsageError& e) {
    std::cerr << "brook-directory: " << e.what() << "\n";
    return 2;
  } catch (const brook::ConfigError& e) {
    std::cerr << "brook-directory: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "brook-directory: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv);
}
