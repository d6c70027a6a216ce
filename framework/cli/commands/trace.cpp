// brook trace MESSAGE_ID: one message's whole trace, hop by hop, from the span files nodes write
// (tracing.spans in the topology; docs/monitoring.md, "Tracing").
#include <iostream>

#include "commands.hpp"
#include "trace_tree.hpp"

namespace brook::cli {

int run_trace(const Args& args) {
  po::options_description o;
  add_topology_options(o);
  o.add_options()("topology,t", po::value<std::string>(),
                  "topology file whose tracing.spans names the span directory")(
      "spans", po::value<std::string>(), "span directory (default: the topology's tracing.spans)")(
      "id", po::value<std::string>()->required(),
      "message id (producer:seq, as brook tap and the logs print it), trace id or traceparent");
  po::positional_options_description pos;
  pos.add("id", 1);
  const auto vm =
      parse(args, "MESSAGE_ID [--spans DIR | --topology FILE]",
            "Shows the trace of a message as a tree: the send that started it, then each\n"
            "handling of each message in it (node.instance, channel, message id, handle\n"
            "time, outcome: ok, error, declined, dead-lettered or retried). Only sampled\n"
            "messages have spans (tracing.sample in the topology). MESSAGE_ID is\n"
            "producer:seq (or producer/seq), a 32-digit trace id, or a traceparent.",
            o, pos);
  if (!vm) return kExitOk;
  const std::string id = (*vm)["id"].as<std::string>();
  const auto query = parse_trace_query(id);
  if (!query) {
    throw Exit(kExitUsage, "brook trace: '" + id +
                               "' is neither a message id (producer:seq, e.g. "
                               "source.0@1a2b3c4d5e6f7a8b:17) nor a trace id (32 hex digits)");
  }
  std::filesystem::path dir;
  if (vm->count("spans")) {
    dir = (*vm)["spans"].as<std::string>();
  } else if (vm->count("topology")) {
    const Topology t = load((*vm)["topology"].as<std::string>(), *vm);
    if (t.tracing.spans.empty()) {
      throw Exit(kExitUsage, t.file.string() +
                                 ": the topology has no tracing.spans; pass --spans DIR or add "
                                 "tracing: {sample: 0.01, spans: spans}");
    }
    dir = t.tracing.spans;
  } else {
    throw Exit(kExitUsage, "brook trace: name the span directory: --spans DIR or --topology FILE");
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw Exit(kExitFailed, "brook trace: " + dir.string() +
                                ": no such directory (nodes write it once they trace a message; "
                                "check tracing.spans and tracing.sample)");
  }
  std::size_t files = 0;
  const std::vector<SpanLine> spans = find_trace(dir, *query, files);
  if (spans.empty()) {
    std::cerr << "brook trace: no span of " << id << " in " << files << " span file(s) under "
              << dir.string()
              << " (only sampled messages have spans: raise tracing.sample, or send one with "
                 "brook send --traceparent 00-<32 hex>-<16 hex>-01)\n";
    return kExitFailed;
  }
  std::cout << render_trace(spans, query->message);
  return kExitOk;
}

}  // namespace brook::cli
