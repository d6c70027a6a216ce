// brook tap CHANNEL: prints the messages flowing on a channel as JSON lines. The tap registers
// as an observer: producers send it copies on a lossy path, so it never takes work from the real
// consumers nor slows them; it counts what it missed from gaps in each producer's sequence.
#include <brook/node.hpp>
#include <iostream>
#include <map>

#include "commands.hpp"
#include "json_codec.hpp"
#include "tool_topology.hpp"

namespace brook::cli {

namespace {

nlohmann::json message_json(const Message& m) {
  const EnvelopeView& e = m.envelope();
  nlohmann::json j{
      {"channel", std::string(e.channel)},
      {"producer", std::string(e.id.producer)},
      {"seq", e.id.seq},
      {"id", std::string(e.id.producer) + ":" + std::to_string(e.id.seq)},  // for brook trace
      {"type", std::string(e.type)},
      {"key", e.has_key ? nlohmann::json(std::string(e.key)) : nlohmann::json(nullptr)},
      {"created_ns", e.created_ns},
      {"attempt", e.attempt},
      {"trace", to_hex(e.trace)}};
  // Only a message that carries its parent has a valid traceparent (W3C: no all-zero parent).
  if (e.parent_span != SpanId{}) {
    j["traceparent"] = format_traceparent({e.trace, e.parent_span, e.trace_flags});
  }
  nlohmann::json headers = nlohmann::json::object();
  e.for_each_header(
      [&](std::string_view k, std::string_view v) { headers[std::string(k)] = std::string(v); });
  j["headers"] = headers;
  try {
    j["payload"] = to_json(m.payload());
  } catch (const PayloadError& err) {
    j["payload"] = nullptr;
    j["payload_error"] = err.what();
  }
  return j;
}

}  // namespace

int run_tap(const Args& args) {
  po::options_description o;
  add_directory_options(o);
  add_topology_options(o);
  o.add_options()("topology,t", po::value<std::string>(),
                  "topology file (default: ask the directory)")(
      "count,n", po::value<std::uint64_t>(), "exit after this many messages")(
      "duration", po::value<std::string>(), "exit after this long, e.g. 10s")(
      "payload-only", "print only the decoded payload of each message")(
      "channel", po::value<std::string>()->required(), "channel to watch");
  po::positional_options_description pos;
  pos.add("channel", 1);
  const auto vm =
      parse(args, "CHANNEL [--topology FILE | --directory EP] [--count N] [--duration 10s]",
            "Prints each message on CHANNEL as one JSON line (envelope fields and the\n"
            "payload decoded from msgpack) until Ctrl-C, --count or --duration. Real\n"
            "consumers are unaffected: the tap gets best-effort copies and reports on\n"
            "standard error how many it missed.",
            o, pos);
  if (!vm) return kExitOk;
  const std::string channel = (*vm)["channel"].as<std::string>();
  std::optional<std::chrono::milliseconds> duration;
  if (vm->count("duration")) {
    duration = parse_duration((*vm)["duration"].as<std::string>());
    if (!duration) throw Exit(kExitUsage, "brook tap: --duration expects a duration like 10s");
  }
  const std::uint64_t limit = vm->count("count") ? (*vm)["count"].as<std::uint64_t>() : 0;
  const bool payload_only = vm->count("payload-only") > 0;

  const ToolTopology tt = tool_topology(*vm, channel, "brook-tap", ToolSide::kReader);
  if (tt.pattern == Pattern::kRequest) {
    throw Exit(kExitFailed, "channel '" + channel +
                                "' is a request channel: each request is answered once by its "
                                "serving node, so it cannot be tapped; try brook call");
  }
  NodeOptions no = tool_node_options(tt);
  no.observer = true;
  Node node(std::move(no));

  std::uint64_t seen = 0;
  std::uint64_t missed = 0;
  std::map<std::string, std::uint64_t, std::less<>> last_seq;  // per producer
  bool done = false;
  node.on("port", [&](const Message& m) {
    // Stopping drains what already arrived; a tap has nobody to hand that to.
    if (done) return;
    const auto id = m.id();
    auto it = last_seq.find(id.producer);
    if (it == last_seq.end()) {
      last_seq.emplace(std::string(id.producer), id.seq);
    } else {
      if (id.seq > it->second + 1) missed += id.seq - it->second - 1;
      it->second = std::max(it->second, id.seq);
    }
    ++seen;
    const nlohmann::json j = message_json(m);
    print_json(std::cout, payload_only ? j["payload"] : j);
    std::cout.flush();
    done = !std::cout || (limit > 0 && seen >= limit);  // reader went away (| head), or enough
    if (done) node.stop();
  });
  if (duration) node.after(*duration, [&] { node.stop(); });
  // Producers send copies only to a tap the directory lists. Registered, the tap is ready by its
  // ready timeout whatever its peers do; not ready a second later, the directory refused it
  // (denied its key: the runtime logged why) or stopped answering, and it would run empty.
  const auto register_limit = tt.topology->node(tt.node)->ready_timeout + std::chrono::seconds(1);
  bool unregistered = false;
  node.after(register_limit, [&] {
    if (node.ready()) return;
    unregistered = true;
    node.stop();
  });
  node.on_ready([&] {
    std::cerr << "tapping " << to_string(tt.pattern) << " channel '" << channel << "' via "
              << tt.directory() << " (Ctrl-C to stop)\n";
  });
  const int rc = node.run();
  if (unregistered) {
    const bool curve = tt.topology->security.mechanism == Mechanism::kCurve;
    throw Exit(kExitFailed,
               "brook tap: not registered with the directory at " + tt.directory() + " after " +
                   std::to_string(register_limit.count()) +
                   " ms: it refused the registration (see the error above) or stopped "
                   "answering, so no producer sends this tap anything" +
                   (curve ? "; under CURVE the tap registers node '" + tt.node +
                                "' with the cli key, which the directory's allowlist must list "
                                "as 'cli' (docs/security.md)"
                          : std::string()));
  }
  std::cerr << "tap: " << seen << " message(s) from " << last_seq.size() << " producer(s), "
            << missed << " missed (the tap drops rather than slow the channel)\n";
  return rc == 0 ? kExitOk : kExitFailed;
}

}  // namespace brook::cli
