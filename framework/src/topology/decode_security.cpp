// The `security:` section: `security: curve`, or a map with mechanism, keys, handshake_timeout.
#include "topology/decode.hpp"
#include "topology/values.hpp"

namespace brook::detail {

namespace {

const std::vector<std::string> kMechanisms = {"none", "curve"};

std::optional<Mechanism> parse_mechanism(std::string_view s) noexcept {
  if (s == "none") return Mechanism::kNone;
  if (s == "curve") return Mechanism::kCurve;
  return std::nullopt;
}

}  // namespace

void decode_security(DiagnosticSink& sink, const Entry& e, SecuritySpec& out) {
  out.where = sink.where(e.key);
  out.keys = "keys";
  if (e.value.IsScalar()) {
    if (auto m = read_enum<Mechanism>(sink, e, "security", parse_mechanism, kMechanisms)) {
      out.mechanism = *m;
    }
    return;
  }
  if (!expect_map(sink, e, "security", false)) return;
  const Fields f =
      read_fields(sink, e.value, {"mechanism", "keys", "handshake_timeout"}, "in security");
  if (const Entry* x = f.find("mechanism")) {
    if (auto m =
            read_enum<Mechanism>(sink, *x, "security.mechanism", parse_mechanism, kMechanisms)) {
      out.mechanism = *m;
    }
  } else {
    sink.error(sink.where(e.value), "missing required key 'mechanism' in security",
               "e.g. security: {mechanism: curve, keys: keys/shop}");
  }
  if (const Entry* x = f.find("keys")) {
    if (auto v = read_string(sink, *x, "security.keys")) {
      if (v->empty()) {
        sink.error(where_value(sink, *x), "security.keys must not be empty",
                   "name the directory `brook keygen` wrote, e.g. keys: keys/shop");
      } else {
        out.keys = *v;
      }
    }
  }
  if (const Entry* x = f.find("handshake_timeout")) {
    if (auto v = read_duration(sink, *x, "security.handshake_timeout")) {
      if (v->count() < 100 || v->count() > 60000) {
        sink.error(
            where_value(sink, *x),
            "security.handshake_timeout must be between 100ms and 60s, got " + format_duration(*v),
            "a peer that has not completed the handshake in this time is dropped; e.g. 2s");
      } else {
        out.handshake_timeout = *v;
      }
    }
  }
}

}  // namespace brook::detail
