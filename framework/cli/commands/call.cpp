// brook call CHANNEL JSON: sends one request on a request channel, as an asking node of its own,
// and prints the reply's payload as JSON.
#include <brook/node.hpp>
#include <iostream>

#include "commands.hpp"
#include "json_codec.hpp"
#include "tool_topology.hpp"

namespace brook::cli {

int run_call(const Args& args) {
  po::options_description o;
  add_directory_options(o);
  add_topology_options(o);
  o.add_options()("topology,t", po::value<std::string>(),
                  "topology file (default: ask the directory)")(
      "type", po::value<std::string>()->default_value("json"),
      "type name of the request (servers that check it expect e.g. shop.PriceQuery)")(
      "timeout", po::value<std::string>(),
      "how long to wait for the reply (default: the channel's)")(
      "channel", po::value<std::string>()->required(), "request channel")(
      "payload", po::value<std::string>()->required(), "request payload as JSON");
  po::positional_options_description pos;
  pos.add("channel", 1).add("payload", 1);
  const auto vm = parse(args, "CHANNEL JSON [--type T] [--timeout D] [--topology FILE]",
                        "Sends JSON (converted to msgpack) as one request on request channel\n"
                        "CHANNEL to a replica of its serving node, found through the directory,\n"
                        "and prints the reply's payload as JSON: exit 0. A failed request (the\n"
                        "server's error, a timeout, the replica died) prints why: exit 1.",
                        o, pos);
  if (!vm) return kExitOk;
  const std::string channel = (*vm)["channel"].as<std::string>();
  std::vector<std::byte> payload;
  try {
    payload = payload_from_json((*vm)["payload"].as<std::string>());
  } catch (const UsageError& e) {
    throw Exit(kExitUsage, std::string("brook call: ") + e.what());
  }
  std::optional<std::chrono::milliseconds> timeout;
  if (vm->count("timeout")) {
    const std::string t = (*vm)["timeout"].as<std::string>();
    timeout = parse_duration(t);
    if (!timeout || timeout->count() < 1) {
      throw Exit(kExitUsage,
                 "brook call: --timeout expects a duration such as 500ms or 2s, got '" + t + "'");
    }
  }
  const std::string type = (*vm)["type"].as<std::string>();

  const ToolTopology tt = tool_topology(*vm, channel, "brook-call", ToolSide::kWriter);
  if (tt.pattern != Pattern::kRequest) {
    throw Exit(kExitFailed, "channel '" + channel + "' is a " + std::string(to_string(tt.pattern)) +
                                " channel, not a request channel; use brook send");
  }
  Node node(tool_node_options(tt));
  std::optional<std::string> reply;  // JSON text
  std::string error = "gave up after 60 s";
  const auto wait = timeout.value_or(tt.topology->channel(channel)->timeout);
  node.on_ready([&] {
    try {
      node.request_raw("port", payload, type, timeout, [&](const Message* m, std::string_view why) {
        if (m == nullptr) {
          error = std::string(why);
        } else {
          try {
            reply = to_json(m->payload()).dump();
          } catch (const std::exception& e) {
            error = std::string("the reply does not decode: ") + e.what();
          }
        }
        node.stop();
      });
    } catch (const Error& e) {
      error = e.what();
      node.stop();
    }
  });
  // Readiness is bounded by the ready timeout once registered; the request by its timeout.
  node.after(wait + std::chrono::seconds(60), [&] { node.stop(); });
  const int rc = node.run();
  if (reply) {
    std::cout << *reply << "\n";
    return rc == 0 ? kExitOk : kExitFailed;
  }
  std::cerr << "brook call: " << error << "\n";
  return kExitFailed;
}

}  // namespace brook::cli
