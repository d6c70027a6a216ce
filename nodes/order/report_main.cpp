// brook-shop-report: checks a shop run. Reads the client's manifest and the order database and
// prints what reached the database, what is missing or wrong, throughput and latency.
// Exit 0 when every valid basket has one complete, correct order and every invalid basket one
// rejection; 1 otherwise (naming up to 10 offending baskets); 2 on a usage error.
#include <boost/program_options.hpp>
#include <brook/topology.hpp>
#include <iostream>

#include "report_logic.hpp"

namespace po = boost::program_options;
using namespace brook::shop;

int main(int argc, char** argv) {
  po::options_description opts(
      "usage: brook-shop-report --db PATH --manifest PATH --topology FILE [--json]");
  opts.add_options()("db", po::value<std::string>()->required(), "the order database (SQLite)")(
      "manifest", po::value<std::string>()->required(), "the client's manifest (JSON lines)")(
      "topology", po::value<std::string>()->required(), "the topology (for pricing's params)")(
      "json", "one JSON object instead of a table")("help", "this text");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    if (vm.count("help")) {
      std::cout << opts;
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "brook-shop-report: " << e.what() << "\n" << opts;
    return 2;
  }
  ReportSummary summary;
  try {
    const brook::Topology topology = brook::load_topology(vm["topology"].as<std::string>());
    const PricingRules rules = pricing_rules_of(topology);
    const auto manifest = read_manifest(vm["manifest"].as<std::string>());
    OrderReader db(vm["db"].as<std::string>());
    summary = build_report(manifest, db, rules);
  } catch (const brook::TopologyError& e) {
    for (const auto& d : e.diagnostics())
      std::cerr << d.str() << "\n";
    return 2;
  } catch (const brook::Error& e) {
    std::cerr << "brook-shop-report: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("json")) {
    std::cout << report_json(summary) << std::endl;
  } else {
    std::cout << report_table(summary) << std::flush;
  }
  if (!summary.ok) {
    for (const auto& o : summary.offenders)
      std::cerr << "  " << o << "\n";
    if (summary.problems > summary.offenders.size()) {
      std::cerr << "  ... and " << summary.problems - summary.offenders.size() << " more\n";
    }
    return 1;
  }
  return 0;
}
