// The command line the broker stage programs share (bench/peers): `--flag value` pairs, checked
// against the role. Header-only: the programs are built without the brook library.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

struct StageArgs {
  std::string role, name, in, out, result, server, ack = "auto";
  std::uint64_t count = 100000, rate = 0, size = 100, timeout_s = 120;
  std::vector<std::string> outs;  // `out` split at commas
};

inline bool parse_uint(std::string_view s, std::uint64_t& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

// nullopt on an unknown flag, a malformed number, or a role missing what it needs (relays and
// sinks read --in, sources and relays write --out). `with_ack`: --ack auto|confirm is accepted.
inline std::optional<StageArgs> parse_stage_args(int argc, char** argv, std::string server,
                                                 bool with_ack) {
  StageArgs a;
  a.server = std::move(server);
  std::map<std::string_view, std::string*> texts{{"--role", &a.role},     {"--name", &a.name},
                                                 {"--in", &a.in},         {"--out", &a.out},
                                                 {"--result", &a.result}, {"--server", &a.server}};
  if (with_ack) texts.emplace("--ack", &a.ack);
  const std::map<std::string_view, std::uint64_t*> numbers{{"--count", &a.count},
                                                           {"--rate", &a.rate},
                                                           {"--size", &a.size},
                                                           {"--timeout-s", &a.timeout_s}};
  if (argc % 2 == 0) return std::nullopt;
  for (int i = 1; i < argc; i += 2) {
    if (const auto t = texts.find(argv[i]); t != texts.end()) {
      *t->second = argv[i + 1];
    } else if (const auto n = numbers.find(argv[i]);
               n == numbers.end() || !parse_uint(argv[i + 1], *n->second)) {
      return std::nullopt;
    }
  }
  for (std::string_view rest = a.out; !rest.empty();) {
    const auto comma = std::min(rest.find(','), rest.size());
    if (comma > 0) a.outs.emplace_back(rest.substr(0, comma));
    rest.remove_prefix(std::min(comma + 1, rest.size()));
  }
  const bool source = a.role == "source", relay = a.role == "relay", sink = a.role == "sink";
  if ((!source && !relay && !sink) || a.name.empty() || a.count == 0) return std::nullopt;
  if (((relay || sink) && a.in.empty()) || ((source || relay) && a.outs.empty()))
    return std::nullopt;
  if (a.ack != "auto" && a.ack != "confirm") return std::nullopt;
  return a;
}

}  // namespace bench
