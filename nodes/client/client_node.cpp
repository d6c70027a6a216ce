#include "client_node.hpp"

#include <algorithm>
#include <brook/error.hpp>
#include <brook/ids.hpp>
#include <cstdio>
#include <string>

namespace brook::shop {

namespace {

// Baskets emitted per timer tick at most, so the loop keeps serving the directory and flushing.
constexpr std::uint64_t kMaxPerTick = 256;

// An option given on the command line beats the param of the same name.
template <class T>
T setting(const brook::Node& node, const char* name, T fallback) {
  if (auto v = node.option<T>(name)) return *v;
  return node.params().get<T>(name, fallback);
}

}  // namespace

brook::ProgramOptions ClientService::options() {
  brook::ProgramOptions own("client options (beat the topology's params)");
  own.add<std::uint64_t>("baskets", "baskets to send")
      .add<double>("rate", "baskets per second, 0 = as fast as possible")
      .add<std::uint64_t>("seed", "random seed")
      .add<std::string>("run", "basket id prefix")
      .add<std::string>("manifest", "write the manifest (JSON lines) here");
  return own;
}

ClientService::ClientService(brook::Node& node) : node_(node), out_(node.output<CartEvent>("out")) {
  total_ = setting<std::uint64_t>(node_, "baskets", 1000);
  rate_ = setting<double>(node_, "rate", 500.0);
  const auto seed = setting<std::uint64_t>(node_, "seed", 1);
  const auto run = setting<std::string>(node_, "run", brook::random_id().substr(0, 8));
  const auto manifest_path = setting<std::string>(node_, "manifest", "");
  const double invalid_ratio = node_.params().get<double>("invalid_ratio", 0.05);
  if (rate_ < 0) throw brook::UsageError("rate must be >= 0");
  catalog_ = load_catalog(resolve_near(
      node_.topology().file, node_.params().get<std::string>("catalog", "data/catalog.csv")));
  planner_.emplace(catalog_, run, seed, invalid_ratio);
  if (!manifest_path.empty()) {
    manifest_.open(manifest_path, std::ios::trunc);
    if (!manifest_) throw brook::Error(manifest_path + ": cannot open manifest for writing");
  }
  BROOK_LOG(kInfo) << "run " << run << ": " << total_ << " baskets at "
                   << (rate_ > 0 ? std::to_string(rate_) + "/s" : std::string("full speed"));

  node_.on_ready([this] {
    start_ = node_.now();
    timer_ = node_.every(std::chrono::milliseconds(rate_ > 0 ? 1 : 0), [this] { tick(); });
  });
  node_.on_stop([this] {
    if (!finished_) {
      BROOK_LOG(kWarn) << "stopped after " << next_ << " of " << total_ << " baskets";
      manifest_.flush();
    }
  });
}

void ClientService::tick() {
  if (finished_) return;
  std::uint64_t due = total_;
  if (rate_ > 0) {
    // The loop's clock, not steady_clock directly, so a unit test's clock paces the rate.
    const double secs = std::chrono::duration<double>(node_.now() - start_).count();
    due = std::min<std::uint64_t>(total_, static_cast<std::uint64_t>(secs * rate_) + 1);
  }
  std::uint64_t budget = kMaxPerTick;
  try {
    while (next_ < due && budget-- > 0) {
      if (!current_) {
        current_ = planner_->plan(next_);
        event_index_ = 0;
      }
      while (event_index_ < current_->events.size()) {
        CartEvent& e = current_->events[event_index_];
        e.sent_ns = static_cast<std::uint64_t>(brook::wall_clock_ns());
        out_.emit(e, brook::with_key(e.basket_id));
        ++event_index_;
        ++events_;
      }
      if (manifest_.is_open()) manifest_ << manifest_line(*current_) << '\n';
      if (current_->valid) ++valid_;
      current_.reset();
      ++next_;
    }
  } catch (const brook::BackpressureError& e) {
    std::uint64_t suppressed = 0;
    if (full_log_.allow(suppressed)) {
      BROOK_LOG(kWarn) << "cart is full, retrying: " << e.what();
    }
    return;
  }
  if (next_ >= total_) finish();
}

void ClientService::finish() {
  finished_ = true;
  node_.cancel(timer_);
  manifest_.flush();
  manifest_.close();
  const double secs = std::chrono::duration<double>(node_.now() - start_).count();
  std::printf("client: sent %llu baskets (%llu valid, %llu invalid), %llu events in %.2f s\n",
              static_cast<unsigned long long>(next_), static_cast<unsigned long long>(valid_),
              static_cast<unsigned long long>(next_ - valid_),
              static_cast<unsigned long long>(events_), secs);
  std::fflush(stdout);
  node_.stop();
}

}  // namespace brook::shop
