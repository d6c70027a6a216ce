// The `tracing:` section: sample, spans, otlp (docs/monitoring.md, "Tracing").
#include "topology/decode.hpp"
#include "tracing/http_post.hpp"

namespace brook::detail {

void decode_tracing(DiagnosticSink& sink, const Entry& e, TracingSpec& out) {
  out.where = sink.where(e.key);
  if (!expect_map(sink, e, "tracing", true)) return;
  if (!e.value.IsMap()) return;  // `tracing:` with nothing under it: off
  const Fields f = read_fields(sink, e.value, {"sample", "spans", "otlp"}, "in tracing");
  if (const Entry* x = f.find("sample")) {
    double v = -1;
    const bool number = x->value.IsScalar() && YAML::convert<double>::decode(x->value, v);
    if (!number || !(v >= 0 && v <= 1)) {
      sink.error(where_value(sink, *x),
                 "tracing.sample must be a number from 0 to 1, got " + describe(x->value),
                 "the fraction of messages that start a trace and are sampled, e.g. "
                 "sample: 0.01; 0 turns tracing off");
    } else {
      out.sample = v;
    }
  }
  if (const Entry* x = f.find("spans")) {
    if (auto v = read_string(sink, *x, "tracing.spans")) {
      if (v->empty()) {
        sink.error(where_value(sink, *x), "tracing.spans must not be empty",
                   "name a directory for the span files, e.g. spans: spans");
      } else {
        out.spans = *v;
      }
    }
  }
  if (const Entry* x = f.find("otlp")) {
    if (auto v = read_string(sink, *x, "tracing.otlp")) {
      std::string why;
      if (!parse_http_url(*v, why)) {
        sink.error(where_value(sink, *x), "tracing.otlp: " + why,
                   "the collector's OTLP/HTTP traces URL, e.g. "
                   "otlp: http://127.0.0.1:4318/v1/traces");
      } else {
        out.otlp = *v;
      }
    }
  }
  if (out.sample > 0 && out.spans.empty() && out.otlp.empty()) {
    sink.error(out.where, "tracing samples messages but sends the spans nowhere",
               "add spans: <directory> or otlp: <collector URL> under tracing");
  }
}

}  // namespace brook::detail
