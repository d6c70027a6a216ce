// brook record CHANNEL... -o FILE: writes the messages flowing on channels, whole envelopes as on
// the wire with their receive times, into a recording (docs/record.md) for brook replay. It
// observes as brook tap does: producers send it copies on a lossy path of their own, so it never
// takes work from the real consumers nor slows them; it counts what it missed from sequence gaps.
#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <brook/node.hpp>
#include <chrono>
#include <iostream>
#include <map>
#include <set>

#include "commands.hpp"
#include "recording.hpp"
#include "tool_topology.hpp"
#include "topology/schema.hpp"

namespace brook::cli {

namespace {

bool is_glob(const std::string& s) {
  return s.find_first_of("*?[") != std::string::npos;
}

// The channels named or matched by `patterns`, in the order given, each once. Request channels
// cannot be observed (each request goes to one server): named, they are an error; matched by a
// pattern, they are left out with a note.
std::vector<std::string> expand(const std::vector<std::string>& patterns,
                                const po::variables_map& vm) {
  const bool globs = std::any_of(patterns.begin(), patterns.end(), is_glob);
  const std::vector<std::string> known = globs ? known_channels(vm) : std::vector<std::string>{};
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& p : patterns) {
    if (!is_glob(p)) {
      if (seen.insert(p).second) out.push_back(p);
      continue;
    }
    bool matched = false;
    for (const auto& c : known) {
      if (::fnmatch(p.c_str(), c.c_str(), 0) != 0) continue;
      matched = true;
      if (seen.insert(c).second) out.push_back(c);
    }
    if (!matched) {
      throw Exit(kExitFailed,
                 "brook record: pattern '" + p + "' matches no channel (" +
                     (known.empty() ? "none known" : "channels: " + detail::join(known)) +
                     "; quote it so the shell does not expand it)");
    }
  }
  return out;
}

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string delivery_name(const ChannelSpec& c) {
  return c.pattern == Pattern::kPipeline ? std::string(to_string(c.delivery)) : std::string();
}

}  // namespace

int run_record(const Args& args) {
  po::options_description o;
  add_directory_options(o);
  add_topology_options(o);
  o.add_options()("topology,t", po::value<std::string>(),
                  "topology file (default: ask the directory)")(
      "output,o", po::value<std::string>()->required(), "recording file to write")(
      "count,n", po::value<std::uint64_t>(), "stop after this many messages")(
      "duration", po::value<std::string>(), "stop after this long, e.g. 10s")(
      "channels", po::value<std::vector<std::string>>()->required(),
      "channels or glob patterns ('shop-*')");
  po::positional_options_description pos;
  pos.add("channels", -1);
  const auto vm =
      parse(args,
            "CHANNEL_OR_PATTERN... -o FILE [--topology FILE | --directory EP] [--count N] "
            "[--duration 10s]",
            "Records every message on the channels (whole envelopes as on the wire, with\n"
            "their receive times) into FILE, compressed, until Ctrl-C, --count or\n"
            "--duration; brook replay sends them again. Real consumers are unaffected:\n"
            "like brook tap, the recorder gets best-effort copies, and it says how many it\n"
            "missed (exit 1 then). Format: docs/record.md.",
            o, pos);
  if (!vm) return kExitOk;
  const std::filesystem::path file = (*vm)["output"].as<std::string>();
  std::optional<std::chrono::milliseconds> duration;
  if (vm->count("duration")) {
    duration = parse_duration((*vm)["duration"].as<std::string>());
    if (!duration) throw Exit(kExitUsage, "brook record: --duration expects a duration like 10s");
  }
  const std::uint64_t limit = vm->count("count") ? (*vm)["count"].as<std::uint64_t>() : 0;

  const std::vector<std::string> channels =
      expand((*vm)["channels"].as<std::vector<std::string>>(), *vm);
  std::vector<std::string> ports;
  for (std::size_t i = 0; i < channels.size(); ++i)
    ports.push_back("c" + std::to_string(i));
  const ToolTopology tt = tool_topology(*vm, channels, ports, "brook-record", ToolSide::kReader);
  RecordingHeader header;
  header.topology = tt.topology->name;
  header.start_ns = wall_ns();
  for (const auto& name : channels) {
    const ChannelSpec& c = *tt.topology->channel(name);
    if (c.pattern == Pattern::kRequest) {
      throw Exit(kExitFailed, "brook record: channel '" + name +
                                  "' is a request channel: each request is answered once by "
                                  "its serving node, so it cannot be recorded");
    }
    header.channels.push_back({name, std::string(to_string(c.pattern)), delivery_name(c)});
  }
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0) header.host = host;

  std::optional<RecordingWriter> writer;
  try {
    writer.emplace(file, header);
  } catch (const Error& e) {
    throw Exit(kExitUsage, std::string("brook record: ") + e.what());
  }

  NodeOptions no = tool_node_options(tt);
  no.observer = true;
  Node node(std::move(no));

  std::uint64_t seen = 0;
  std::uint64_t missed = 0;
  std::vector<std::uint64_t> per_channel(channels.size());
  // Sequence numbers are per producer and channel.
  std::map<std::pair<std::size_t, std::string>, std::uint64_t> last_seq;
  std::string failure;
  bool done = false;
  for (std::size_t i = 0; i < channels.size(); ++i) {
    node.on(ports[i], [&, i](const Message& m) {
      if (done) return;  // stopping drains what already arrived; it is not asked for
      const auto id = m.id();
      const auto key = std::make_pair(i, std::string(id.producer));
      if (auto it = last_seq.find(key); it == last_seq.end()) {
        last_seq.emplace(key, id.seq);
        // Says the producer's copies arrive: until then a recording may miss its first ones.
        std::cerr << "recording " << channels[i] << " from " << id.producer << "\n";
      } else {
        if (id.seq > it->second + 1) missed += id.seq - it->second - 1;
        it->second = std::max(it->second, id.seq);
      }
      try {
        writer->write(wall_ns(), static_cast<std::uint16_t>(i), m.envelope().frame);
      } catch (const Error& e) {
        failure = e.what();
        done = true;
        node.stop();
        return;
      }
      ++seen;
      ++per_channel[i];
      done = limit > 0 && seen >= limit;
      if (done) node.stop();
    });
  }
  std::uint64_t flushed = 0;  // records made readable by the last flush
  node.every(std::chrono::seconds(1), [&] {
    if (done || flushed == writer->records()) return;
    try {
      writer->flush();
      flushed = writer->records();
    } catch (const Error& e) {
      failure = e.what();
      done = true;
      node.stop();
    }
  });
  if (duration) node.after(*duration, [&] { node.stop(); });
  // As brook tap: not registered a second after its ready timeout, nobody sends it anything.
  const auto register_limit = tt.topology->node(tt.node)->ready_timeout + std::chrono::seconds(1);
  bool unregistered = false;
  node.after(register_limit, [&] {
    if (node.ready()) return;
    unregistered = true;
    node.stop();
  });
  const auto started = std::chrono::steady_clock::now();
  node.on_ready([&] {
    std::cerr << "recording " << detail::join(channels) << " of topology '" << header.topology
              << "' via " << tt.directory() << " into " << file.string() << " (Ctrl-C to stop)\n";
  });
  const int rc = node.run();
  if (failure.empty()) {
    try {
      writer->finish();
    } catch (const Error& e) {
      failure = e.what();
    }
  }
  if (unregistered) {
    throw Exit(kExitFailed, "brook record: not registered with the directory at " + tt.directory() +
                                " after " + std::to_string(register_limit.count()) +
                                " ms: it refused the registration (see the error above) or "
                                "stopped answering, so no producer sends the recorder anything");
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  std::set<std::string> producers;
  for (const auto& [key, seq] : last_seq)
    producers.insert(key.second);
  std::cerr << "recorded " << seen << " message(s) from " << producers.size() << " producer(s) in "
            << ms << " ms into " << file.string();
  if (channels.size() > 1) {
    std::cerr << " (";
    for (std::size_t i = 0; i < channels.size(); ++i)
      std::cerr << (i ? ", " : "") << channels[i] << " " << per_channel[i];
    std::cerr << ")";
  }
  std::cerr << ", " << missed << " missed\n";
  if (!failure.empty()) {
    std::cerr << "brook record: stopped: " << failure << "\n";
    return kExitFailed;
  }
  if (missed > 0) {
    std::cerr << "brook record: the recording lacks " << missed
              << " message(s): the recorder gets best-effort copies and was too slow, or a "
                 "producer dropped them; record fewer channels or on a less loaded host\n";
    return kExitFailed;
  }
  return rc == 0 ? kExitOk : kExitFailed;
}

}  // namespace brook::cli
