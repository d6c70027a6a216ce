// `directory.http`: where each brook-directory serves /metrics, /health, /api/topology and the
// dashboard (docs/monitoring.md). Checked here so a typo stops `brook check`, not the directory.
#include "topology/decode.hpp"
#include "topology/http_address.hpp"

namespace brook::detail {

void decode_directory_http(DiagnosticSink& sink, const Entry& e, std::string& out) {
  const auto text = read_string(sink, e, "http");
  if (!text) return;
  std::string why;
  const auto address = parse_http_address(*text, why);
  if (!address) {
    sink.error(where_value(sink, e), "directory.http: " + why, std::string(kHttpAddressHint));
    return;
  }
  out = format_http_address(*address);
}

}  // namespace brook::detail
