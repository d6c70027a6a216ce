// brook-shop-client (a job): simulates shoppers. Sends `baskets` baskets of cart events at `rate`
// baskets per second (0: as fast as emit allows), never waiting for replies, then exits.
//   outputs {out: cart}
//   params: baskets, rate, seed, invalid_ratio, catalog, run, manifest (docs/shop.md)
#include <brook/ids.hpp>
#include <brook/node.hpp>

#include "catalog.hpp"
#include "client_logic.hpp"
#include "shop_types.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>

namespace po = boost::program_options;
using namespace brook::shop;

namespace {

// Baskets emitted per timer tick at most, so the loop keeps serving the directory and flushing.
constexpr std::uint64_t kMaxPerTick = 256;

template <class T>
T setting(const brook::Node& node, const char* name, T fallback) {
  if (auto v = node.option<T>(name)) return *v;
  return node.params().get<T>(name, fallback);
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description own("client options (beat the topology's params)");
  own.add_options()
      ("baskets", po::value<std::uint64_t>(), "baskets to send")
      ("rate", po::value<double>(), "baskets per second, 0 = as fast as possible")
      ("seed", po::value<std::uint64_t>(), "random seed")
      ("run", po::value<std::string>(), "basket id prefix")
      ("manifest", po::value<std::string>(), "write the manifest (JSON lines) here");
  brook::Node node(argc, argv, own);

  std::uint64_t total = 0;
  double rate = 0;
  std::optional<Catalog> catalog;
  std::optional<BasketPlanner> planner;
  std::ofstream manifest;
  std::string manifest_path;
  try {
    total = setting<std::uint64_t>(node, "baskets", 1000);
    rate = setting<double>(node, "rate", 500.0);
    const auto seed = setting<std::uint64_t>(node, "seed", 1);
    const auto run = setting<std::string>(node, "run", brook::random_id().substr(0, 8));
    manifest_path = setting<std::string>(node, "manifest", "");
    const double invalid_ratio = node.params().get<double>("invalid_ratio", 0.05);
    if (rate < 0) throw brook::UsageError("rate must be >= 0");
    catalog = load_catalog(resolve_near(node.topology().file,
                                        node.params().get<std::string>("catalog", "data/catalog.csv")));
    planner.emplace(*catalog, run, seed, invalid_ratio);
    if (!manifest_path.empty()) {
      manifest.open(manifest_path, std::ios::trunc);
      if (!manifest) throw brook::Error(manifest_path + ": cannot open manifest for writing");
    }
    BROOK_LOG(kInfo) << "run " << run << ": " << total << " baskets at "
                     << (rate > 0 ? std::to_string(rate) + "/s" : std::string("full speed"));
  } catch (const brook::Error& e) {
    std::cerr << "brook-shop-client: " << e.what() << "\n";
    return 2;
  }

  std::uint64_t next = 0;  // baskets fully sent
  std::uint64_t valid = 0;
  std::uint64_t events = 0;
  std::optional<PlannedBasket> current;
  std::size_t event_index = 0;  // next event of `current` to emit: survives a backpressure retry
  std::chrono::steady_clock::time_point start;
  brook::TimerId timer = 0;
  bool finished = false;
  brook::LogRateLimiter full_log;

  auto finish = [&] {
    finished = true;
    node.cancel(timer);
    manifest.flush();
    manifest.close();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("client: sent %llu baskets (%llu valid, %llu invalid), %llu events in %.2f s\n",
                static_cast<unsigned long long>(next), static_cast<unsigned long long>(valid),
                static_cast<unsigned long long>(next - valid), static_cast<unsigned long long>(events),
                secs);
    std::fflush(stdout);
    node.stop();
  };

  auto tick = [&] {
    if (finished) return;
    std::uint64_t due = total;
    if (rate > 0) {
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      due = std::min<std::uint64_t>(total, static_cast<std::uint64_t>(secs * rate) + 1);
    }
    std::uint64_t budget = kMaxPerTick;
    try {
      while (next < due && budget-- > 0) {
        if (!current) {
          current = planner->plan(next);
          event_index = 0;
        }
        while (event_index < current->events.size()) {
          CartEvent& e = current->events[event_index];
          e.sent_ns = static_cast<std::uint64_t>(brook::wall_clock_ns());
          node.emit("out", e, brook::with_key(e.basket_id));
          ++event_index;
          ++events;
        }
        if (manifest.is_open()) manifest << manifest_line(*current) << '\n';
        if (current->valid) ++valid;
        current.reset();
        ++next;
      }
    } catch (const brook::BackpressureError& e) {
      std::uint64_t suppressed = 0;
      if (full_log.allow(suppressed)) {
        BROOK_LOG(kWarn) << "cart is full, retrying: " << e.what();
      }
      return;
    }
    if (next >= total) finish();
  };

  node.on_ready([&] {
    start = std::chrono::steady_clock::now();
    timer = node.every(std::chrono::milliseconds(rate > 0 ? 1 : 0), tick);
  });
  node.on_stop([&] {
    if (!finished) {
      BROOK_LOG(kWarn) << "stopped after " << next << " of " << total << " baskets";
      manifest.flush();
    }
  });
  return node.run();
}
