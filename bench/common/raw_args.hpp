// The command line both raw libzmq stages share (bench-raw-stage, bench-raw-best-stage):
// `--flag value` pairs, the flags every stage takes, and the checks that do not depend on how a
// stage wires its sockets. Each stage adds its own flags through `extra`.
#pragma once

#include <charconv>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace bench {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename T>
T parse_number(std::string_view flag, std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) {
    throw UsageError(std::string(flag) + ": not a number: '" + std::string(text) + "'");
  }
  return value;
}

struct RawArgs {
  std::string role;
  std::string name;
  std::uint64_t count = 0;
  std::uint64_t rate = 0;
  std::size_t size = 100;
  std::string in;
  std::string result;  // empty: stdout
  double timeout_s = 120;
};

// Parses the common flags into `a`; any other flag goes to `extra(flag, value)`, which returns
// false for one it does not know either. Then checks role, name, count, timeout and that --in
// is given to relays and sinks only (a stray endpoint would hide a wiring mistake).
inline void parse_raw_args(int argc, char** argv, RawArgs& a,
                           const std::function<bool(std::string_view, std::string_view)>& extra) {
  for (int i = 1; i < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) throw UsageError(std::string(flag) + " needs a value");
    const std::string_view value = argv[i + 1];
    if (flag == "--role") {
      a.role = value;
    } else if (flag == "--name") {
      a.name = value;
    } else if (flag == "--count") {
      a.count = parse_number<std::uint64_t>(flag, value);
    } else if (flag == "--rate") {
      a.rate = parse_number<std::uint64_t>(flag, value);
    } else if (flag == "--size") {
      a.size = parse_number<std::size_t>(flag, value);
    } else if (flag == "--in") {
      a.in = value;
    } else if (flag == "--result") {
      a.result = value;
    } else if (flag == "--timeout-s") {
      a.timeout_s = parse_number<double>(flag, value);
    } else if (!extra(flag, value)) {
      throw UsageError("unknown flag '" + std::string(flag) + "'");
    }
  }
  if (a.role != "source" && a.role != "relay" && a.role != "sink") {
    throw UsageError("--role must be source, relay or sink");
  }
  if (a.name.empty()) throw UsageError("--name is required");
  if (a.count == 0) throw UsageError("--count N (N > 0) is required");
  if (!(a.timeout_s > 0)) throw UsageError("--timeout-s must be > 0");
  if ((a.role == "source") != a.in.empty()) {
    throw UsageError("--in is required for relay and sink, and only for them");
  }
}

}  // namespace bench
