// The `log:` section: `log: {format: json}`.
#include "topology/decode.hpp"

namespace brook::detail {

namespace {
const std::vector<std::string> kFormats = {"text", "plain", "json"};
}  // namespace

void decode_log(DiagnosticSink& sink, const Entry& e, LogSpec& out) {
  if (!expect_map(sink, e, "log", false)) return;
  const Fields f = read_fields(sink, e.value, {"format"}, "in log");
  if (const Entry* x = f.find("format")) {
    if (auto v = read_enum<LogFormat>(sink, *x, "log.format", parse_log_format, kFormats)) {
      out.format = *v;
    }
  }
}

}  // namespace brook::detail
