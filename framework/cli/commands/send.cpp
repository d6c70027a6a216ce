// brook send CHANNEL JSON: injects messages into a channel, as a producer node of its own.
#include <algorithm>
#include <brook/node.hpp>
#include <iostream>

#include "commands.hpp"
#include "json_codec.hpp"
#include "tool_topology.hpp"

namespace brook::cli {

namespace {

// Stops after `limit` bytes, so that endless input is refused as too large instead of filling
// memory.
std::string read_at_most(std::istream& in, std::size_t limit) {
  std::string text;
  char chunk[64 * 1024];
  while (text.size() < limit && in) {
    in.read(chunk, static_cast<std::streamsize>(std::min(sizeof chunk, limit - text.size())));
    text.append(chunk, static_cast<std::size_t>(in.gcount()));
  }
  return text;
}

}  // namespace

int run_send(const Args& args) {
  po::options_description o;
  add_directory_options(o);
  add_topology_options(o);
  o.add_options()("topology,t", po::value<std::string>(),
                  "topology file (default: ask the directory)")("key,k", po::value<std::string>(),
                                                                "ordering key of each message")(
      "count,n", po::value<std::uint64_t>()->default_value(1), "how many copies to send")(
      "type", po::value<std::string>()->default_value("json"),
      "type name in the envelope (consumers that check it expect e.g. shop.CartEvent)")(
      "header", po::value<std::vector<std::string>>()->composing(),
      "NAME=VALUE header (repeatable)")(
      "traceparent", po::value<std::string>(),
      "continue this W3C trace: 00-<32 hex trace id>-<16 hex parent id>-<flags> (01: sampled)")(
      "channel", po::value<std::string>()->required(), "channel to write")(
      "payload", po::value<std::string>()->required(),
      "payload as JSON, or - to read it from stdin");
  po::positional_options_description pos;
  pos.add("channel", 1).add("payload", 1);
  const auto vm = parse(
      args, "CHANNEL JSON [--key K] [--count N] [--type T] [--traceparent TP] [--topology FILE]",
      "Sends JSON (converted to msgpack) as the payload of COUNT messages on\n"
      "CHANNEL. Waits (up to 5 s) until every consuming node has a live replica,\n"
      "then sends and exits 0 once all were handed over; exit 1 if some could not\n"
      "be delivered.",
      o, pos);
  if (!vm) return kExitOk;
  const std::string channel = (*vm)["channel"].as<std::string>();
  std::string text = (*vm)["payload"].as<std::string>();
  if (text == "-") text = read_at_most(std::cin, kMaxPayloadJsonSize + 1);
  std::vector<std::byte> payload;
  try {
    payload = payload_from_json(text);
  } catch (const UsageError& e) {
    throw Exit(kExitUsage, std::string("brook send: ") + e.what());
  }
  std::vector<std::pair<std::string, std::string>> header_values;
  if (vm->count("header")) {
    for (const auto& h : (*vm)["header"].as<std::vector<std::string>>()) {
      const auto eq = h.find('=');
      if (eq == std::string::npos || eq == 0)
        throw Exit(kExitUsage, "brook send: --header expects NAME=VALUE, got '" + h + "'");
      header_values.emplace_back(h.substr(0, eq), h.substr(eq + 1));
    }
  }
  std::vector<Header> headers;
  for (const auto& [k, v] : header_values)
    headers.emplace_back(k, v);
  const std::optional<std::string> key =
      vm->count("key") ? std::optional((*vm)["key"].as<std::string>()) : std::nullopt;
  std::optional<TraceContext> trace;
  if (vm->count("traceparent")) {
    trace = parse_traceparent((*vm)["traceparent"].as<std::string>());
    if (!trace) {
      throw Exit(kExitUsage,
                 "brook send: --traceparent expects 00-<32 hex trace id>-<16 hex parent id>-"
                 "<2 hex flags>, lowercase, ids not all zero, e.g. "
                 "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    }
  }
  const std::uint64_t count = (*vm)["count"].as<std::uint64_t>();
  const std::string type = (*vm)["type"].as<std::string>();

  const ToolTopology tt = tool_topology(*vm, channel, "brook-send", ToolSide::kWriter);
  if (tt.consumer_groups == 0 && tt.pattern == Pattern::kPipeline) {
    throw Exit(kExitFailed, "no node reads channel '" + channel + "': nothing would receive it");
  }
  const WriteResult r = run_writer(tt, channel, [&](Node& node, std::uint64_t& sent) {
    EmitOptions eo;
    if (key) eo.key = *key;
    eo.headers = headers;
    eo.trace = trace;
    for (; sent < count; ++sent)
      node.emit_raw("port", payload, type, eo);
  });
  const std::uint64_t sent = r.sent;
  const std::uint64_t undelivered = r.undelivered;
  const std::string& failure = r.failure;
  if (!failure.empty())
    std::cerr << "brook send: stopped after " << sent << ": " << failure << "\n";
  std::cerr << "sent " << sent << " message(s) to " << to_string(tt.pattern) << " channel '"
            << channel << "' (" << tt.consumer_groups << " consuming node(s))";
  if (undelivered > 0) std::cerr << "; " << undelivered << " could not be delivered";
  std::cerr << "\n";
  return r.ok && sent == count ? kExitOk : kExitFailed;
}

}  // namespace brook::cli
