// brook-shop-report's logic: checks what the shop recorded against the client's manifest.
#pragma once

#include <brook/topology.hpp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "order_logic.hpp"
#include "pricing_logic.hpp"
#include "shop_types.hpp"

namespace brook::shop {

struct ManifestEntry {
  std::string basket_id;
  bool valid = true;
  std::vector<Line> lines;
  std::string reason;
};

// Reads the client's JSON-lines manifest. Throws brook::Error "file:line: ..." for a malformed
// line or a repeated basket id, or when the file cannot be read.
std::vector<ManifestEntry> read_manifest(const std::filesystem::path& file);

// The rules of the topology's pricing node: the node named "pricing", else the first whose exec
// is brook-shop-pricing. Throws brook::Error when there is none.
PricingRules pricing_rules_of(const Topology& topology);

struct LatencyMs {
  double p50 = 0;
  double p99 = 0;
  double max = 0;
};

struct ReportSummary {
  std::uint64_t baskets = 0;
  std::uint64_t valid = 0;
  std::uint64_t invalid = 0;
  std::uint64_t orders_complete = 0;    // complete orders of valid baskets (right or wrong)
  std::uint64_t orders_missing = 0;     // valid baskets without any order row
  std::uint64_t orders_incomplete = 0;  // valid baskets whose order still awaits its quote
  std::uint64_t orders_wrong = 0;       // complete, but lines or totals differ from expected
  std::uint64_t rejections = 0;         // invalid baskets with a rejection
  std::uint64_t invalid_without_rejection = 0;
  std::uint64_t valid_rejected = 0;
  std::uint64_t invalid_with_order = 0;  // an invalid basket that became an order anyway
  double throughput_per_s = 0;
  LatencyMs latency_ms;
  bool ok = false;
  std::uint64_t problems = 0;
  std::vector<std::string> offenders;  // "basket_id: problem", the first 10
};

ReportSummary build_report(const std::vector<ManifestEntry>& manifest, OrderReader& db,
                           const PricingRules& rules);

std::string report_json(const ReportSummary& s);   // one line, no newline
std::string report_table(const ReportSummary& s);  // several lines, ends with a newline

}  // namespace brook::shop
