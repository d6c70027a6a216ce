#include "report_logic.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_set>

namespace brook::shop {

namespace {

constexpr std::size_t kMaxOffenders = 10;

std::string describe(const std::vector<Line>& lines) {
  std::string s;
  for (const Line& l : lines)
    s += (s.empty() ? "" : " ") + l.sku + "x" + std::to_string(l.qty);
  return "[" + s + "]";
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

std::vector<ManifestEntry> read_manifest(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw Error(file.string() + ": cannot open manifest");
  std::vector<ManifestEntry> out;
  std::unordered_set<std::string> seen;
  std::string text;
  std::size_t line_no = 0;
  while (std::getline(in, text)) {
    ++line_no;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = file.string() + ":" + std::to_string(line_no) + ": ";
    try {
      const auto j = nlohmann::json::parse(text);
      ManifestEntry e;
      e.basket_id = j.at("basket_id").get<std::string>();
      e.valid = j.at("valid").get<bool>();
      for (const auto& l : j.at("lines")) {
        e.lines.push_back(Line{l.at("sku").get<std::string>(), l.at("qty").get<std::int32_t>()});
      }
      e.reason = j.value("reason", std::string());
      if (!seen.insert(e.basket_id).second)
        throw Error("basket '" + e.basket_id + "' listed twice");
      out.push_back(std::move(e));
    } catch (const nlohmann::json::exception& ex) {
      throw Error(where + ex.what());
    } catch (const Error& ex) {
      throw Error(where + ex.what());
    }
  }
  return out;
}

PricingRules pricing_rules_of(const Topology& topology) {
  const NodeSpec* spec = topology.node("pricing");
  if (spec == nullptr) {
    for (const NodeSpec& n : topology.nodes) {
      if (std::filesystem::path(n.exec).filename() == "brook-shop-pricing") {
        spec = &n;
        break;
      }
    }
  }
  if (spec == nullptr) throw Error(topology.file.string() + ": no pricing node");
  return rules_from(spec->params);
}

ReportSummary build_report(const std::vector<ManifestEntry>& manifest, OrderReader& db,
                           const PricingRules& rules) {
  ReportSummary s;
  auto offend = [&](const std::string& id, const std::string& what) {
    ++s.problems;
    if (s.offenders.size() < kMaxOffenders) s.offenders.push_back(id + ": " + what);
  };
  std::vector<double> latencies;
  std::uint64_t first_sent = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t last_persisted = 0;
  for (const ManifestEntry& e : manifest) {
    ++s.baskets;
    const auto order = db.order(e.basket_id);
    const auto rejection = db.rejection(e.basket_id);
    if (!e.valid) {
      ++s.invalid;
      if (rejection) {
        ++s.rejections;
      } else {
        ++s.invalid_without_rejection;
        offend(e.basket_id, "invalid (" + e.reason + ") but no rejection recorded");
      }
      if (order) {
        ++s.invalid_with_order;
        offend(e.basket_id, "invalid (" + e.reason + ") but an order was recorded");
      }
      continue;
    }
    ++s.valid;
    if (rejection) {
      ++s.valid_rejected;
      offend(e.basket_id, "valid but rejected: " + rejection->reason);
    }
    if (!order) {
      ++s.orders_missing;
      if (!rejection) offend(e.basket_id, "no order");
      continue;
    }
    if (order->status != "complete") {
      ++s.orders_incomplete;
      offend(e.basket_id, "order " + order->status);
      continue;
    }
    ++s.orders_complete;
    std::vector<Line> got;
    for (const ResolvedLine& l : order->lines)
      got.push_back(Line{l.sku, l.qty});
    const Quote expect = price(order->lines, rules);
    if (got != e.lines) {
      ++s.orders_wrong;
      offend(e.basket_id, "lines " + describe(got) + ", expected " + describe(e.lines));
    } else if (expect.total_cents != order->quote.total_cents ||
               expect.subtotal_cents != order->quote.subtotal_cents ||
               expect.discount_cents != order->quote.discount_cents ||
               expect.tax_cents != order->quote.tax_cents) {
      ++s.orders_wrong;
      offend(e.basket_id, "total " + std::to_string(order->quote.total_cents) + ", expected " +
                              std::to_string(expect.total_cents));
    }
    if (order->persisted_ns) {
      first_sent = std::min(first_sent, order->client_sent_ns);
      last_persisted = std::max(last_persisted, *order->persisted_ns);
      const auto delta = static_cast<double>(static_cast<std::int64_t>(*order->persisted_ns) -
                                             static_cast<std::int64_t>(order->client_sent_ns));
      latencies.push_back(delta / 1e6);
    }
  }
  std::sort(latencies.begin(), latencies.end());
  s.latency_ms = {percentile(latencies, 0.50), percentile(latencies, 0.99),
                  latencies.empty() ? 0 : latencies.back()};
  if (!latencies.empty() && last_persisted > first_sent) {
    s.throughput_per_s = static_cast<double>(latencies.size()) /
                         (static_cast<double>(last_persisted - first_sent) / 1e9);
  }
  s.ok = s.orders_complete == s.valid && s.orders_wrong == 0 && s.rejections == s.invalid &&
         s.valid_rejected == 0 && s.invalid_with_order == 0;
  return s;
}

std::string report_json(const ReportSummary& s) {
  nlohmann::ordered_json j;
  j["baskets"] = s.baskets;
  j["valid"] = s.valid;
  j["invalid"] = s.invalid;
  j["orders_complete"] = s.orders_complete;
  j["orders_missing"] = s.orders_missing;
  j["orders_incomplete"] = s.orders_incomplete;
  j["orders_wrong"] = s.orders_wrong;
  j["rejections"] = s.rejections;
  j["invalid_without_rejection"] = s.invalid_without_rejection;
  j["valid_rejected"] = s.valid_rejected;
  j["invalid_with_order"] = s.invalid_with_order;
  j["throughput_per_s"] = s.throughput_per_s;
  j["latency_ms"] = {
      {"p50", s.latency_ms.p50}, {"p99", s.latency_ms.p99}, {"max", s.latency_ms.max}};
  j["ok"] = s.ok;
  j["offenders"] = s.offenders;
  return j.dump();
}

std::string report_table(const ReportSummary& s) {
  std::string out;
  auto row = [&](const char* label, const std::string& value) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "%-27s %s\n", label, value.c_str());
    out += buf;
  };
  auto num = [](std::uint64_t v) { return std::to_string(v); };
  auto fixed = [](double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return std::string(buf);
  };
  row("baskets sent",
      num(s.baskets) + " (" + num(s.valid) + " valid, " + num(s.invalid) + " invalid)");
  row("orders complete", num(s.orders_complete));
  row("orders missing", num(s.orders_missing));
  row("orders awaiting quote", num(s.orders_incomplete));
  row("orders wrong", num(s.orders_wrong));
  row("rejections (invalid)", num(s.rejections));
  row("invalid without rejection", num(s.invalid_without_rejection));
  row("valid but rejected", num(s.valid_rejected));
  row("invalid but ordered", num(s.invalid_with_order));
  row("throughput", fixed(s.throughput_per_s, 1) + " orders/s");
  row("latency p50 / p99 / max", fixed(s.latency_ms.p50, 2) + " / " + fixed(s.latency_ms.p99, 2) +
                                     " / " + fixed(s.latency_ms.max, 2) + " ms");
  row("result", s.ok ? "OK" : "FAILED (" + num(s.problems) + " problems)");
  return out;
}

}  // namespace brook::shop
