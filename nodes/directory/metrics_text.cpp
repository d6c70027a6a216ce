#include "metrics_text.hpp"

#include <array>
#include <charconv>
#include <vector>

namespace brook {

namespace {

struct KnownMetric {
  std::string_view name;
  ChannelMetricInfo info;
};

// The help of each channel counter (docs/runtime.md#counters). lag_ms is shown in seconds.
constexpr std::array<KnownMetric, 21> kChannelMetrics{{
    {"received", {"Envelopes decoded and handed to a handler (duplicates not included).", false}},
    {"emitted", {"Messages accepted by emit().", false}},
    {"sent", {"Frames handed to ZeroMQ, one per consuming group (re-sends included).", false}},
    {"decode_errors", {"Frames rejected by the envelope or payload decoder.", false}},
    {"handler_errors", {"Handler calls that threw.", false}},
    {"dropped", {"Messages discarded by policy (on_full: drop).", false}},
    {"backpressure", {"Emits that found a full queue.", false}},
    {"pending", {"Messages held for consumers, not yet handed to ZeroMQ.", true}},
    {"in_flight", {"At-least-once messages sent and not yet acknowledged.", true}},
    {"redelivered", {"At-least-once messages re-sent.", false}},
    {"duplicates", {"At-least-once re-sends received again and not handled again.", false}},
    {"gaps", {"Pubsub messages a publisher sent that never arrived.", false}},
    {"retried", {"Handler calls repeated by the channel's retry policy.", false}},
    {"dead_lettered", {"Messages sent to the channel's dead_letter channel.", false}},
    {"refused", {"Connection attempts to this input refused (security: curve).", false}},
    {"forged", {"Envelopes dropped because their producer is not the connection's.", false}},
    {"accept_failed", {"accept() calls on the input's socket that failed.", false}},
    {"declined", {"At-least-once messages a handler declined, left with their producer.", false}},
    {"misrouted", {"At-least-once envelopes naming another channel.", false}},
    {"handled", {"Handler calls that returned (neither threw nor declined).", false}},
    {"lag_ms",
     {"Age of the oldest message this producer has not had acknowledged (0: none).", true}},
}};

// Label values from the wire: printable ASCII as is (quote and backslash escaped), anything else
// '?', so the output is always valid UTF-8 whatever a heartbeat carried.
void append_label_value(std::string& out, std::string_view v) {
  for (const char c : v) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c >= 0x20 && c <= 0x7e) {
      out += c;
    } else {
      out += '?';
    }
  }
}

void append_number(std::string& out, double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_number(std::string& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

class Writer {
 public:
  // Starts a metric family: its HELP and TYPE lines.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  // name{labels[,extra="value"]} value; `labels` already rendered (Labels below).
  template <class V>
  void sample(std::string_view name, std::string_view labels, std::string_view extra_label,
              std::string_view extra_value, V value) {
    out_ += name;
    if (!labels.empty() || !extra_label.empty()) {
      out_ += '{';
      out_ += labels;
      if (!extra_label.empty()) {
        if (!labels.empty()) out_ += ',';
        out_ += extra_label;
        out_ += "=\"";
        append_label_value(out_, extra_value);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    append_number(out_, value);
    out_ += '\n';
  }
  void reserve(std::size_t n) { out_.reserve(n); }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// Every series' labels, rendered once per scrape rather than once per sample: per instance
// topology="..",node="..",instance="..", and per channel of it the same with ,channel="..".
struct Labels {
  std::vector<std::string> instance;
  std::vector<std::vector<std::string>> channel;  // in the order of counters.channels

  explicit Labels(const MonitorSnapshot& s) {
    instance.reserve(s.instances.size());
    channel.reserve(s.instances.size());
    for (const auto& m : s.instances) {
      std::string l = "topology=\"";
      append_label_value(l, m.info.topology);
      l += "\",node=\"";
      append_label_value(l, m.info.node);
      l += "\",instance=\"";
      l += std::to_string(m.info.instance);
      l += '"';
      auto& per = channel.emplace_back();
      per.reserve(m.info.counters.channels.size());
      for (const auto& [name, c] : m.info.counters.channels) {
        std::string cl = l + ",channel=\"";
        append_label_value(cl, name);
        cl += '"';
        per.push_back(std::move(cl));
      }
      instance.push_back(std::move(l));
    }
  }
};

double seconds(std::uint64_t ms) {
  return static_cast<double>(ms) / 1000.0;
}

// The histogram's bucket bounds as Prometheus `le` labels, in seconds.
const std::array<std::string, LatencyHistogram::kBuckets>& le_labels() {
  static const auto labels = [] {
    std::array<std::string, LatencyHistogram::kBuckets> l;
    for (std::size_t b = 0; b + 1 < LatencyHistogram::kBuckets; ++b) {
      // bound / 1e6 is correctly rounded, so the shortest form is the exact decimal (3.2e-05).
      append_number(l[b], static_cast<double>(LatencyHistogram::bound_us(b)) / 1e6);
    }
    l.back() = "+Inf";
    return l;
  }();
  return labels;
}

void channel_families(Writer& w, const MonitorSnapshot& s, const Labels& labels) {
  for (const auto& f : kChannelCounterFields) {
    const ChannelMetricInfo info = channel_metric_info(f.name);
    std::string name = "brook_channel_";
    const bool lag = f.name == "lag_ms";
    if (lag) {
      name += "lag_seconds";
    } else {
      name += f.name;
      if (!info.gauge) name += "_total";
    }
    w.family(name, info.gauge ? "gauge" : "counter", info.help.empty() ? f.name : info.help);
    for (std::size_t i = 0; i < s.instances.size(); ++i) {
      std::size_t j = 0;
      for (const auto& [channel, c] : s.instances[i].info.counters.channels) {
        const std::uint64_t v = c.*f.member;
        if (lag) {
          w.sample(name, labels.channel[i][j++], {}, {}, seconds(v));
        } else {
          w.sample(name, labels.channel[i][j++], {}, {}, v);
        }
      }
    }
  }
}

void latency_family(Writer& w, const MonitorSnapshot& s, const Labels& labels) {
  constexpr std::string_view name = "brook_handler_duration_seconds";
  w.family(name, "histogram", "Time a handler call took, per input channel.");
  const auto& le = le_labels();
  for (std::size_t i = 0; i < s.instances.size(); ++i) {
    std::size_t j = 0;
    for (const auto& [channel, c] : s.instances[i].info.counters.channels) {
      const std::string& l = labels.channel[i][j++];
      const LatencyHistogram& h = c.latency;
      if (h.count() == 0) continue;  // an output, or an input whose handler never ran
      std::uint64_t cumulative = 0;
      for (std::size_t b = 0; b < LatencyHistogram::kBuckets; ++b) {
        cumulative += h.counts[b];
        w.sample("brook_handler_duration_seconds_bucket", l, "le", le[b], cumulative);
      }
      w.sample("brook_handler_duration_seconds_sum", l, {}, {},
               static_cast<double>(h.sum_ns) / 1e9);
      w.sample("brook_handler_duration_seconds_count", l, {}, {}, cumulative);
    }
  }
}

void instance_families(Writer& w, const MonitorSnapshot& s, const Labels& labels) {
  const auto each = [&](std::string_view name, std::string_view type, std::string_view help,
                        auto value_of) {
    w.family(name, type, help);
    for (std::size_t i = 0; i < s.instances.size(); ++i)
      w.sample(name, labels.instance[i], {}, {}, value_of(s.instances[i].info));
  };
  each("brook_instance_up", "gauge",
       "1 while the instance's heartbeats arrive, 0 when the last is over two periods old.",
       [&](const InstanceInfo& i) { return std::uint64_t{is_late(s, i) ? 0u : 1u}; });
  each("brook_instance_heartbeat_age_seconds", "gauge",
       "Time since the instance's last register or heartbeat.",
       [](const InstanceInfo& i) { return seconds(i.age_ms); });
  each("brook_instance_uptime_seconds", "gauge", "The instance's uptime, as it last reported.",
       [](const InstanceInfo& i) { return seconds(i.counters.uptime_ms); });
  each("brook_instance_loop_iterations_total", "counter", "Turns of the instance's event loop.",
       [](const InstanceInfo& i) { return i.counters.loop_iterations; });
  w.family("brook_user_total", "counter", "The node's own counters (Node::counter), by name.");
  for (std::size_t i = 0; i < s.instances.size(); ++i) {
    for (const auto& [name, v] : s.instances[i].info.counters.user_counters)
      w.sample("brook_user_total", labels.instance[i], "name", name, v);
  }
  w.family("brook_user_level", "gauge", "The node's own gauges (Node::gauge), by name.");
  for (std::size_t i = 0; i < s.instances.size(); ++i) {
    for (const auto& [name, v] : s.instances[i].info.counters.user_gauges)
      w.sample("brook_user_level", labels.instance[i], "name", name, v);
  }
}

void directory_families(Writer& w, const MonitorSnapshot& s) {
  const auto one = [&](std::string_view name, std::string_view type, std::string_view help,
                       auto value) {
    w.family(name, type, help);
    w.sample(name, std::string_view{}, {}, {}, value);
  };
  one("brook_directory_up", "gauge", "1: the directory serves.", std::uint64_t{1});
  one("brook_directory_uptime_seconds", "gauge", "Time since the directory started.",
      seconds(s.uptime_ms));
  one("brook_directory_instances", "gauge", "Instances registered.",
      static_cast<std::uint64_t>(s.instances.size()));
  one("brook_directory_requests_total", "counter", "Requests received.", s.totals.requests);
  one("brook_directory_bad_requests_total", "counter",
      "Requests answered bad_request (malformed, or over a limit).", s.totals.bad_requests);
  one("brook_directory_denied_total", "counter", "Requests denied (security: curve).",
      s.totals.denied);
  one("brook_directory_refused_connections_total", "counter",
      "Connections refused (security: curve).", s.totals.refused);
  one("brook_directory_leases_expired_total", "counter",
      "Instances removed because their lease ran out.", s.totals.leases_expired);
  one("brook_directory_updates_published_total", "counter", "Change notifications published.",
      s.totals.updates_published);
}

}  // namespace

ChannelMetricInfo channel_metric_info(std::string_view name) noexcept {
  for (const auto& m : kChannelMetrics) {
    if (m.name == name) return m.info;
  }
  return {};
}

std::string render_metrics(const MonitorSnapshot& s) {
  const Labels labels(s);
  Writer w;
  // About 110 bytes a sample: 21 per channel, 27 per timed channel, a few per instance.
  std::size_t channels = 0;
  for (const auto& m : s.instances)
    channels += m.info.counters.channels.size();
  w.reserve(4096 + 110 * (48 * channels + 8 * s.instances.size()));
  directory_families(w, s);
  instance_families(w, s, labels);
  channel_families(w, s, labels);
  latency_family(w, s, labels);
  return w.take();
}

}  // namespace brook
