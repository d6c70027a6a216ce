// brook dead ls|show|redrive: inspect the dead letters a brook-dead-letters node kept, and send
// them back to the channel they failed on.
#include <brook/ids.hpp>
#include <brook/node.hpp>
#include <brook/params.hpp>
#include <iomanip>
#include <iostream>
#include <map>

#include "commands.hpp"
#include "dead_letter_file.hpp"
#include "json_codec.hpp"
#include "tool_topology.hpp"

namespace brook::cli {

namespace {

// --store, or the store of the brook-dead-letters node reading CHANNEL in --topology.
std::string store_path(const po::variables_map& vm) {
  if (vm.count("store")) return vm["store"].as<std::string>();
  if (!vm.count("channel") || !vm.count("topology")) {
    throw Exit(kExitUsage, "brook dead: give --store FILE, or CHANNEL with --topology FILE");
  }
  const std::string channel = vm["channel"].as<std::string>();
  const Topology t = load(vm["topology"].as<std::string>(), vm);
  for (const NodeSpec* n : t.consumers(channel)) {
    if (std::filesystem::path(n->exec).filename() != "brook-dead-letters") continue;
    return n->params.get<std::string>("store", "dead-letters.jsonl");
  }
  throw Exit(kExitFailed, "no brook-dead-letters node reads channel '" + channel + "' in " +
                              t.file.string() +
                              "; add one (exec: brook-dead-letters, inputs: {in: " + channel +
                              "}, params: {store: FILE}) or pass --store");
}

nlohmann::json letter_json(const DeadLetter& d, bool with_payload) {
  nlohmann::json j{
      {"id", d.id},
      {"channel", d.channel},
      {"dead_channel", d.dead_channel},
      {"producer", d.producer},
      {"seq", d.seq},
      {"type", d.type},
      {"key", d.key ? nlohmann::json(*d.key) : nlohmann::json(nullptr)},
      {"error", d.error},
      {"attempts", d.attempts},
      {"node", d.node},
      {"received_ns", d.received_ns},
      {"redriven_ns", d.redriven_ns ? nlohmann::json(*d.redriven_ns) : nlohmann::json(nullptr)}};
  if (with_payload) {
    nlohmann::json h = nlohmann::json::object();
    for (const auto& [k, v] : d.headers)
      h[k] = v;
    j["headers"] = h;
    // A dead letter may be one whose payload did not decode: read it under the receivers' limits.
    PayloadDecoder decoder;
    msgpack::object obj;
    if (const DecodeStatus st = decoder.unpack(d.payload, obj); st) {
      j["payload"] = to_json(obj);
    } else {
      j["payload"] = nullptr;
      j["payload_error"] = st.describe();
    }
  }
  return j;
}

int redrive(const po::variables_map& vm, DeadLetterFile& store) {
  std::vector<const DeadLetter*> chosen;
  if (vm.count("id")) {
    for (const auto id : vm["id"].as<std::vector<std::uint64_t>>()) {
      const DeadLetter* d = store.find(id);
      if (d == nullptr) throw Exit(kExitFailed, "brook dead: no dead letter " + std::to_string(id));
      chosen.push_back(d);
    }
  } else if (vm.count("all")) {
    for (const auto& d : store.all()) {
      if (!d.redriven_ns) chosen.push_back(&d);
    }
  } else {
    throw Exit(kExitUsage, "brook dead redrive: say which: --id ID (repeatable) or --all");
  }
  std::map<std::string, std::vector<const DeadLetter*>> by_channel;
  for (const auto* d : chosen)
    by_channel[d->channel].push_back(d);
  bool failed = false;
  for (const auto& [channel, letters] : by_channel) {
    if (channel.empty()) {
      std::cerr
          << "brook dead: " << letters.size()
          << " dead letter(s) do not say their channel (no dead-letter-channel header); skipped\n";
      failed = true;
      continue;
    }
    const ToolTopology tt = tool_topology(vm, channel, "brook-redrive", ToolSide::kWriter);
    const WriteResult r = run_writer(tt, channel, [&](Node& node, std::uint64_t& sent) {
      for (const DeadLetter* d : letters) {
        std::vector<Header> headers;
        for (const auto& [k, v] : d->headers)
          headers.emplace_back(k, v);
        const std::string from = std::to_string(d->id);
        headers.emplace_back("redriven-from", from);
        EmitOptions o;
        if (d->key) o.key = *d->key;
        o.headers = headers;
        node.emit_raw("port", d->payload, d->type, o);
        ++sent;
      }
    });
    if (!r.ok) {
      std::cerr << "brook dead: redrive to '" << channel << "' incomplete: " << r.sent << " sent, "
                << r.undelivered << " not delivered" << (r.failure.empty() ? "" : ": " + r.failure)
                << "\n";
      failed = true;
      continue;  // not marked: they can be redriven again
    }
    const auto now = wall_clock_ns();
    for (const DeadLetter* d : letters)
      store.mark_redriven(d->id, now);
    std::cerr << "redrove " << r.sent << " dead letter(s) to '" << channel << "'\n";
  }
  return failed ? kExitFailed : kExitOk;
}

}  // namespace

int run_dead(const Args& args) {
  po::options_description o;
  add_directory_options(o);
  add_topology_options(o);
  o.add_options()("topology,t", po::value<std::string>(),
                  "topology file (finds the store and the channels)")(
      "store", po::value<std::string>(), "the brook-dead-letters store file")(
      "id", po::value<std::vector<std::uint64_t>>()->composing(),
      "a dead letter (show, redrive; repeatable)")(
      "all", "ls: include redriven ones; redrive: every one not redriven yet")(
      "json", "ls, show: JSON")("verb", po::value<std::string>()->required(),
                                "ls, show or redrive")("channel", po::value<std::string>(),
                                                       "the dead-letter channel");
  po::positional_options_description pos;
  pos.add("verb", 1).add("channel", 1);
  const auto vm = parse(
      args,
      "ls|show|redrive [CHANNEL --topology FILE | --store FILE] [--id ID]... [--all] [--json]",
      "Dead letters kept by a brook-dead-letters node reading a dead-letter channel:\n"
      "  ls       list them (not yet redriven ones; --all for every one)\n"
      "  show     one (--id) with its headers and payload as JSON\n"
      "  redrive  send them back to the channel they failed on (--id or --all)",
      o, pos);
  if (!vm) return kExitOk;
  const std::string verb = (*vm)["verb"].as<std::string>();
  if (verb != "ls" && verb != "show" && verb != "redrive") {
    throw Exit(kExitUsage, "brook dead: unknown verb '" + verb + "' (ls, show or redrive)");
  }
  DeadLetterFile store(store_path(*vm), false);
  if (verb == "redrive") return redrive(*vm, store);
  if (verb == "show") {
    if (!vm->count("id")) throw Exit(kExitUsage, "brook dead show: --id ID");
    for (const auto id : (*vm)["id"].as<std::vector<std::uint64_t>>()) {
      const DeadLetter* d = store.find(id);
      if (d == nullptr) throw Exit(kExitFailed, "brook dead: no dead letter " + std::to_string(id));
      const auto j = letter_json(*d, true);
      if (vm->count("json")) {
        print_json(std::cout, j);
      } else {
        std::cout << j.dump(2) << "\n";
      }
    }
    return kExitOk;
  }
  const bool all = vm->count("all") > 0;
  if (vm->count("json")) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& d : store.all()) {
      if (all || !d.redriven_ns) list.push_back(letter_json(d, false));
    }
    print_json(std::cout, {{"store", store.path().string()}, {"dead_letters", list}});
    return kExitOk;
  }
  std::size_t shown = 0;
  for (const auto& d : store.all()) {
    if (!all && d.redriven_ns) continue;
    if (shown++ == 0) {
      std::cout << std::left << std::setw(6) << "ID" << std::setw(16) << "CHANNEL" << std::setw(9)
                << "ATTEMPTS" << std::setw(20) << "NODE"
                << "ERROR\n";
    }
    std::cout << std::left << std::setw(6)
              << (std::to_string(d.id) + (d.redriven_ns ? "*" : "") + " ") << std::setw(16)
              << (d.channel + " ") << std::setw(9) << (std::to_string(d.attempts) + " ")
              << std::setw(20) << (d.node + " ") << d.error.substr(0, 100) << "\n";
  }
  std::cout << shown << " dead letter(s) in " << store.path().string()
            << (all ? " (* = redriven)" : " not redriven yet") << "\n";
  return kExitOk;
}

}  // namespace brook::cli
