// brook stats: per instance and channel counters (from heartbeats), the counters and gauges
// nodes declare, and rates; live on a terminal, once with --json or --once.
#include <poll.h>

#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include "commands.hpp"
#include "directory_view.hpp"
#include "launch/loss_report.hpp"
#include "util/lifecycle.hpp"

namespace brook::cli {

namespace {

std::string instance_name(const InstanceInfo& i) {
  return i.node + "." + std::to_string(i.instance);
}

// An instance's user counters, their rates and its user gauges, added into `into` (per instance:
// an empty object; per node: the sums so far).
void add_user_metrics(nlohmann::json& into, const StatsSample& before, const StatsSample& now,
                      const InstanceInfo& i, bool with_rates) {
  for (const char* key : {"user_counters", "user_counters_per_s", "user_gauges"}) {
    if (!into.contains(key)) into[key] = nlohmann::json::object();
  }
  for (const auto& [name, v] : i.counters.user_counters) {
    auto& value = into["user_counters"][name];
    value = value.is_null() ? v : value.get<std::uint64_t>() + v;
    auto& rate = into["user_counters_per_s"][name];
    const double r = with_rates ? user_counter_rate(before, now, i, name) : 0.0;
    rate = rate.is_null() ? r : rate.get<double>() + r;
  }
  for (const auto& [name, v] : i.counters.user_gauges) {
    auto& value = into["user_gauges"][name];
    value = value.is_null() ? v : value.get<std::int64_t>() + v;
  }
}

nlohmann::json stats_json(const std::string& ep, const StatsSample& before, const StatsSample& now,
                          bool with_rates) {
  nlohmann::json j{
      {"directory", ep},
      {"epoch", now.list.state.epoch},
      {"interval_ms",
       with_rates
           ? std::chrono::duration_cast<std::chrono::milliseconds>(now.at - before.at).count()
           : 0}};
  j["instances"] = nlohmann::json::array();
  nlohmann::json nodes = nlohmann::json::object();
  for (const auto& i : now.list.instances) {
    if (!nodes.contains(i.node))
      nodes[i.node] = {{"instances", 0}, {"channels", nlohmann::json::object()}};
    nlohmann::json channels = nlohmann::json::object();
    for (const auto& [name, c] : i.counters.channels) {
      nlohmann::json cj = to_json(c);
      cj["failed"] = launch::failed_for_good(c);
      const Rates r = with_rates ? rates_since(before, now, i, name) : Rates{};
      cj["received_per_s"] = r.received;
      cj["emitted_per_s"] = r.emitted;
      channels[name] = cj;
      auto& node_ch = nodes[i.node]["channels"][name];
      if (node_ch.is_null()) node_ch = nlohmann::json::object();
      c.for_each([&](std::string_view k, std::uint64_t v) {
        const std::string key(k);
        node_ch[key] = node_ch.value(key, std::uint64_t{0}) + v;
      });
      node_ch["failed"] = node_ch.value("failed", std::uint64_t{0}) + launch::failed_for_good(c);
      node_ch["received_per_s"] = node_ch.value("received_per_s", 0.0) + r.received;
      node_ch["emitted_per_s"] = node_ch.value("emitted_per_s", 0.0) + r.emitted;
    }
    nodes[i.node]["instances"] = nodes[i.node].value("instances", 0) + 1;
    add_user_metrics(nodes[i.node], before, now, i, with_rates);
    nlohmann::json inst{{"name", instance_name(i)},
                        {"node", i.node},
                        {"instance", i.instance},
                        {"pid", i.pid},
                        {"uptime_ms", i.counters.uptime_ms},
                        {"age_ms", i.age_ms},
                        {"channels", channels}};
    add_user_metrics(inst, before, now, i, with_rates);
    j["instances"].push_back(std::move(inst));
  }
  j["nodes"] = nodes;
  return j;
}

// The counters and gauges the nodes declared (Node::counter, Node::gauge), one row each, when
// any instance has some.
void user_metrics_table(std::ostream& s, const StatsSample& before, const StatsSample& now) {
  bool any = false;
  for (const auto& i : now.list.instances)
    any = any || !i.counters.user_counters.empty() || !i.counters.user_gauges.empty();
  if (!any) return;
  s << "\n"
    << std::left << std::setw(18) << "INSTANCE" << std::setw(32) << "COUNTER" << std::right
    << std::setw(14) << "VALUE" << std::setw(9) << "RATE"
    << "\n";
  for (const auto& i : now.list.instances) {
    bool first = true;
    auto row = [&](const std::string& name, const std::string& value) {
      s << std::left << std::setw(18) << (first ? instance_name(i) : "") << std::setw(32) << name
        << std::right << std::setw(14) << value;
      first = false;
    };
    for (const auto& [name, v] : i.counters.user_counters) {
      row(name, std::to_string(v));
      s << std::setw(9) << format_rate(user_counter_rate(before, now, i, name)) << "\n";
    }
    for (const auto& [name, v] : i.counters.user_gauges) {
      row(name + " (gauge)", std::to_string(v));
      s << "\n";
    }
  }
}

std::string stats_table(const std::string& ep, const StatsSample& before, const StatsSample& now) {
  std::ostringstream s;
  s << "brook stats  directory " << ep << "  " << now.list.instances.size() << " instance(s)\n"
    << std::left << std::setw(18) << "INSTANCE" << std::setw(16) << "CHANNEL" << std::right
    << std::setw(11) << "RECEIVED" << std::setw(9) << "RATE" << std::setw(11) << "EMITTED"
    << std::setw(9) << "RATE" << std::setw(8) << "ERRORS" << std::setw(8) << "FAILED"
    << std::setw(8) << "DEAD" << std::setw(9) << "DROPPED" << std::setw(9) << "PENDING"
    << "\n";
  for (const auto& i : now.list.instances) {
    bool first = true;
    for (const auto& [name, c] : i.counters.channels) {
      const Rates r = rates_since(before, now, i, name);
      s << std::left << std::setw(18) << (first ? instance_name(i) : "") << std::setw(16) << name
        << std::right << std::setw(11) << c.received << std::setw(9) << format_rate(r.received)
        << std::setw(11) << c.emitted << std::setw(9) << format_rate(r.emitted) << std::setw(8)
        << (c.decode_errors + c.handler_errors) << std::setw(8) << launch::failed_for_good(c)
        << std::setw(8) << c.dead_lettered << std::setw(9) << c.dropped << std::setw(9) << c.pending
        << "\n";
      first = false;
    }
    if (first) s << std::left << std::setw(18) << instance_name(i) << "(no channel counters yet)\n";
  }
  user_metrics_table(s, before, now);
  return s.str();
}

}  // namespace

int run_stats(const Args& args) {
  po::options_description o;
  add_directory_options(o);
  o.add_options()("topology,t", po::value<std::string>(),
                  "find the directory through this topology")("json",
                                                              "print one JSON object and exit")(
      "once", "print the table once and exit (default when not on a terminal)")(
      "interval", po::value<std::string>()->default_value("1s"),
      "time between samples; rates are computed over it (0 with --json: no rates, no wait)");
  add_topology_options(o);
  const auto vm =
      parse(args, "[--directory EP | --topology FILE] [--json | --once] [--interval 1s]",
            "Counters each instance reports with its heartbeats (received, emitted, sent,\n"
            "decode/handler errors, failed (given up after retries, or undecodable),\n"
            "dead-lettered, dropped, backpressure, pending), the counters and gauges its\n"
            "node declares, and per-second rates.",
            o, {});
  if (!vm) return kExitOk;
  std::optional<Topology> topo;
  if (vm->count("topology")) topo = load((*vm)["topology"].as<std::string>(), *vm);
  const auto interval = parse_duration((*vm)["interval"].as<std::string>());
  if (!interval)
    throw Exit(kExitUsage, "brook stats: --interval expects a duration like 1s or 500ms");

  DirectoryReader reader(directory_endpoints(*vm, topo ? &*topo : nullptr),
                         cli_security(*vm, topo ? &*topo : nullptr));
  auto sample = [&] {
    StatsSample s{std::chrono::steady_clock::now(), reader.list()};
    if (topo) keep_topology(s.list, topo->name);
    return s;
  };
  StatsSample before = sample();
  const bool json = vm->count("json") > 0;
  const bool live = !json && !vm->count("once") && stdout_is_tty();
  if (json || !live) {
    StatsSample now = before;
    if (interval->count() > 0) {
      std::this_thread::sleep_for(*interval);  // the only way to measure a rate is to wait
      now = sample();
    }
    if (json) {
      print_json(std::cout, stats_json(reader.endpoint(), before, now, interval->count() > 0));
    } else {
      std::cout << stats_table(reader.endpoint(), before, now);
    }
    return kExitOk;
  }

  // Live refresh needs a real interval; 0 would hammer the directory.
  const auto period = std::max(*interval, std::chrono::milliseconds(100));
  StopSignal stop(true);
  for (;;) {
    pollfd pfd{stop.fd(), POLLIN, 0};
    (void)::poll(&pfd, 1, static_cast<int>(period.count()));
    if (stop.requested()) return kExitOk;
    StatsSample now = sample();
    std::cout << "\x1b[H\x1b[2J" << stats_table(reader.endpoint(), before, now) << std::flush;
    before = std::move(now);
  }
}

}  // namespace brook::cli
