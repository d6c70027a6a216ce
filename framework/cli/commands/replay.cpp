// brook replay FILE: sends the messages of a recording (brook record, docs/record.md) into their
// channels, or one --to channel, as a producer node of its own — at-least-once where the channel
// is, so it knows what was delivered. One producer emitting in recorded order keeps each key's
// order as the channel keeps any producer's.
#include <algorithm>
#include <brook/envelope_codec.hpp>
#include <brook/node.hpp>
#include <chrono>
#include <functional>
#include <iostream>

#include "commands.hpp"
#include "json_codec.hpp"
#include "recording.hpp"
#include "tool_topology.hpp"

namespace brook::cli {

namespace {

using Clock = std::chrono::steady_clock;

// Envelopes of any size the file holds; the channel's own bound applies when sending.
Limits record_limits() {
  Limits l;
  l.max_message_size = kMaxRecord;
  return l;
}

nlohmann::json record_json(const Record& r, const RecordingHeader& h, PayloadDecoder& decoder) {
  nlohmann::json j{{"receive_ns", r.receive_ns}, {"channel", h.channels[r.channel].name}};
  EnvelopeView e;
  if (const DecodeStatus st = decode_envelope(r.envelope, record_limits(), e); !st) {
    j["envelope_error"] = st.describe();
    return j;
  }
  j["producer"] = std::string(e.id.producer);
  j["seq"] = e.id.seq;
  j["type"] = std::string(e.type);
  j["key"] = e.has_key ? nlohmann::json(std::string(e.key)) : nlohmann::json(nullptr);
  j["created_ns"] = e.created_ns;
  j["attempt"] = e.attempt;
  j["trace"] = to_hex(e.trace);
  nlohmann::json headers = nlohmann::json::object();
  e.for_each_header(
      [&](std::string_view k, std::string_view v) { headers[std::string(k)] = std::string(v); });
  j["headers"] = headers;
  msgpack::object payload;
  if (const DecodeStatus st = decoder.unpack(e.payload, payload); st) {
    j["payload"] = to_json(payload);
  } else {
    j["payload"] = nullptr;
    j["payload_error"] = st.describe();
  }
  return j;
}

// `brook replay FILE --list`: the header, then one JSON line per record.
int list(RecordingReader& reader) {
  const RecordingHeader& h = reader.header();
  nlohmann::json channels = nlohmann::json::array();
  for (const auto& c : h.channels)
    channels.push_back({{"name", c.name}, {"pattern", c.pattern}, {"delivery", c.delivery}});
  print_json(std::cout, {{"topology", h.topology},
                         {"channels", channels},
                         {"start_ns", h.start_ns},
                         {"host", h.host}});
  PayloadDecoder decoder(record_limits());
  while (const auto r = reader.next())
    print_json(std::cout, record_json(*r, h, decoder));
  std::cout.flush();
  if (!reader.truncated().empty())
    std::cerr << "brook replay: warning: " << reader.truncated() << "\n";
  std::cerr << reader.records() << " record(s)\n";
  return kExitOk;
}

}  // namespace

int run_replay(const Args& args) {
  po::options_description o;
  add_directory_options(o);
  add_topology_options(o);
  o.add_options()("topology,t", po::value<std::string>(),
                  "topology file (default: ask the directory)")(
      "to", po::value<std::string>(), "send every message to this channel instead")(
      "rate", po::value<double>(), "messages per second (default: as fast as acknowledged)")(
      "as-recorded", "keep the recorded time between messages")(
      "drain-timeout", po::value<std::string>()->default_value("30s"),
      "how long to wait for acknowledgements at the end")(
      "list", "print the header and each record as JSON lines; send nothing")(
      "file", po::value<std::string>()->required(), "recording file (brook record -o)");
  po::positional_options_description pos;
  pos.add("file", 1);
  const auto vm =
      parse(args, "FILE [--to CHANNEL] [--rate R | --as-recorded] [--topology FILE] [--list]",
            "Sends the messages of a recording into their channels (or --to CHANNEL) as a\n"
            "producer of its own, in recorded order; exit 1 if any was not acknowledged.\n"
            "--list prints the recording instead.",
            o, pos);
  if (!vm) return kExitOk;
  const std::filesystem::path file = (*vm)["file"].as<std::string>();
  std::optional<RecordingReader> reader;
  try {
    reader.emplace(file);
  } catch (const Error& e) {
    throw Exit(kExitUsage, std::string("brook replay: ") + e.what());
  }
  if (vm->count("list")) return list(*reader);

  const bool as_recorded = vm->count("as-recorded") > 0;
  double rate = 0;
  if (vm->count("rate")) {
    rate = (*vm)["rate"].as<double>();
    if (!(rate > 0) || as_recorded)
      throw Exit(kExitUsage,
                 "brook replay: --rate expects a positive number of messages per "
                 "second, and not with --as-recorded");
  }
  const auto drain = parse_duration((*vm)["drain-timeout"].as<std::string>());
  if (!drain) throw Exit(kExitUsage, "brook replay: --drain-timeout expects a duration like 30s");

  // Port i writes target channel i; a record of recorded channel c goes to port route[c].
  const RecordingHeader& header = reader->header();
  std::vector<std::string> channels;
  std::vector<std::size_t> route;
  if (vm->count("to")) {
    channels.push_back((*vm)["to"].as<std::string>());
    route.assign(header.channels.size(), 0);
  } else {
    for (const auto& c : header.channels) {
      route.push_back(channels.size());
      channels.push_back(c.name);
    }
  }
  std::vector<std::string> ports;
  for (std::size_t i = 0; i < channels.size(); ++i)
    ports.push_back("c" + std::to_string(i));
  const ToolTopology tt = tool_topology(*vm, channels, ports, "brook-replay", ToolSide::kWriter);
  for (const auto& name : channels) {
    const ChannelSpec& c = *tt.topology->channel(name);
    if (c.pattern == Pattern::kRequest) {
      throw Exit(kExitFailed, "brook replay: channel '" + name +
                                  "' is a request channel; replay writes pipeline and pubsub "
                                  "channels (pass --to CHANNEL)");
    }
    if (c.pattern == Pattern::kPipeline && tt.topology->consumers(name).empty()) {
      throw Exit(kExitFailed, "brook replay: no node reads channel '" + name +
                                  "': nothing would receive it (start its consumers, e.g. "
                                  "brook up TOPOLOGY --only NODE, or pass --to CHANNEL)");
    }
  }

  NodeOptions no = tool_node_options(tt);
  no.drain_timeout = *drain;
  Node node(std::move(no));

  std::optional<Record> next = reader->next();
  std::uint64_t sent = 0;
  std::uint64_t undecodable = 0;
  std::vector<std::uint64_t> per_channel(channels.size());
  std::string failure;
  Clock::time_point start = Clock::now();
  std::int64_t first_ns = next ? next->receive_ns : 0;
  // When record number `n` (0-based, received at `receive_ns`) is due.
  const auto due = [&](std::uint64_t n, std::int64_t receive_ns) {
    if (as_recorded)
      return start + std::chrono::nanoseconds(std::max<std::int64_t>(0, receive_ns - first_ns));
    if (rate > 0)
      return start + std::chrono::nanoseconds(static_cast<std::int64_t>(n * 1e9 / rate));
    return start;
  };
  std::function<void()> pump = [&] {
    try {
      // A bounded batch per turn keeps the loop answering acknowledgements and signals.
      for (int batch = 0; next && batch < 256; ++batch) {
        const auto when = due(sent + undecodable, next->receive_ns);
        if (when > Clock::now()) {
          node.after(std::chrono::ceil<std::chrono::milliseconds>(when - Clock::now()), pump);
          return;
        }
        EnvelopeView e;
        if (!decode_envelope(next->envelope, record_limits(), e)) {
          ++undecodable;
        } else {
          std::vector<Header> headers;
          e.for_each_header(
              [&](std::string_view k, std::string_view v) { headers.emplace_back(k, v); });
          EmitOptions eo;
          if (e.has_key) eo.key = e.key;
          eo.headers = headers;
          const std::size_t port = route[next->channel];
          node.emit_raw(ports[port], e.payload, e.type, eo);
          ++per_channel[port];
          ++sent;
        }
        next = reader->next();
      }
    } catch (const Error& e) {
      failure = e.what();
      node.stop();
      return;
    }
    if (next) {
      node.post(pump);
    } else {
      node.stop();
    }
  };
  node.on_ready([&] {
    start = Clock::now();
    pump();
  });
  const int rc = node.run();

  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  std::uint64_t undelivered = 0;
  bool ok = rc == 0 && failure.empty() && undecodable == 0 && !next;
  for (std::size_t i = 0; i < channels.size(); ++i) {
    const ChannelSpec& c = *tt.topology->channel(channels[i]);
    const bool acked = c.pattern == Pattern::kPipeline && c.delivery == Delivery::kAtLeastOnce;
    std::uint64_t lost = 0;
    if (const auto it = node.counters().channels.find(channels[i]);
        it != node.counters().channels.end())
      lost = it->second.pending + it->second.in_flight;
    undelivered += lost;
    std::cerr << "replayed " << per_channel[i] << " message(s) to " << to_string(c.pattern)
              << " channel '" << channels[i] << "' (" << tt.topology->consumers(channels[i]).size()
              << " consuming node(s))";
    if (acked) {
      std::cerr << ", " << per_channel[i] - std::min(lost, per_channel[i]) << " acknowledged";
    } else {
      std::cerr << " ("
                << (c.pattern == Pattern::kPubsub ? std::string_view("pubsub")
                                                  : to_string(c.delivery))
                << ": not acknowledged)";
    }
    std::cerr << "\n";
  }
  std::cerr << "replay of " << file.string() << ": " << sent << " of " << reader->records()
            << " record(s) sent in " << elapsed.count() << " ms";
  if (undelivered > 0) std::cerr << ", " << undelivered << " not acknowledged";
  if (undecodable > 0) std::cerr << ", " << undecodable << " not decodable (skipped)";
  std::cerr << "\n";
  if (!reader->truncated().empty() && !next)
    std::cerr << "brook replay: warning: " << reader->truncated() << "\n";
  if (!failure.empty())
    std::cerr << "brook replay: stopped after " << sent << ": " << failure << "\n";
  return ok && undelivered == 0 ? kExitOk : kExitFailed;
}

}  // namespace brook::cli
