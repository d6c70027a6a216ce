// The launcher's plain logic: start order, drain detection, what nodes report at stop.
#include <gtest/gtest.h>

#include <map>

#include "launch/drain_detector.hpp"
#include "launch/launch_plan.hpp"
#include "launch/loss_report.hpp"

namespace brook::launch {
namespace {

using namespace std::chrono_literals;

Topology shop() {
  return parse_topology(R"(
topology: shop
channels: {cart: {}, checkouts: {}, resolved: {}, rejections: {}, quotes: {pattern: pubsub}}
nodes:
  client: {exec: /bin/true, job: true, outputs: {out: cart}}
  basket: {exec: /bin/true, inputs: {in: cart}, outputs: {out: checkouts}}
  product: {exec: /bin/true, replicas: 2, inputs: {in: checkouts},
            outputs: {out: resolved, rejected: rejections}}
  pricing: {exec: /bin/true, inputs: {in: resolved}, outputs: {out: quotes}}
  order: {exec: /bin/true, inputs: {baskets: resolved, quotes: quotes, rejections: rejections}}
)",
                        "shop.yaml");
}

Topology ring() {
  return parse_topology(R"(
topology: ring
channels: {a: {}, b: {}}
nodes:
  x: {exec: /bin/true, inputs: {in: b}, outputs: {out: a}}
  y: {exec: /bin/true, inputs: {in: a}, outputs: {out: b}}
)",
                        "ring.yaml");
}

std::vector<std::vector<std::string>> names(
    const std::vector<std::vector<const NodeSpec*>>& levels) {
  std::vector<std::vector<std::string>> out;
  for (const auto& l : levels) {
    out.emplace_back();
    for (const auto* n : l)
      out.back().push_back(n->name);
  }
  return out;
}

TEST(LaunchPlan, ConsumersStartBeforeTheirProducers) {
  const auto levels = names(start_levels(shop()));
  const std::vector<std::vector<std::string>> expected{
      {"order"}, {"pricing"}, {"product"}, {"basket"}, {"client"}};
  EXPECT_EQ(levels, expected);
}

// A dead-letter channel is written by the nodes consuming the channels that name it: its reader
// starts before them and stops after them, so the dead letters they send at stop are taken.
TEST(LaunchPlan, ADeadLetterReaderIsDownstreamOfTheNodesThatDeadLetter) {
  const Topology t = parse_topology(R"(
topology: dl
channels: {work: {dead_letter: graveyard}, graveyard: {}}
nodes:
  source: {exec: /bin/true, job: true, outputs: {out: work}}
  worker: {exec: /bin/true, inputs: {in: work}}
  keeper: {exec: /bin/true, inputs: {in: graveyard}}
)",
                                    "dl.yaml");
  const std::vector<std::vector<std::string>> expected{{"keeper"}, {"worker"}, {"source"}};
  EXPECT_EQ(names(start_levels(t)), expected);
  const auto plan = start_plan(t, start_levels(t));
  ASSERT_EQ(plan.size(), 3u);
  ASSERT_EQ(plan[1].node->name, "worker");
  ASSERT_EQ(plan[1].waits_for.size(), 1u);
  EXPECT_EQ(plan[1].waits_for[0]->name, "keeper");
  EXPECT_EQ(channels_downstream_of_jobs(t), (std::set<std::string>{"work", "graveyard"}));
}

TEST(LaunchPlan, OnlyKeepsTheNamedNodesAndRejectsUnknownOnes) {
  const auto t = shop();
  const auto levels = names(start_levels(t, {"client", "product"}));
  const std::vector<std::vector<std::string>> expected{{"client", "product"}};
  EXPECT_EQ(levels, expected) << "client's consumer (basket) is not selected, so it does not wait";
  EXPECT_THROW(start_levels(t, {"nobody"}), UsageError);
}

TEST(LaunchPlan, CyclesDoNotLoopForever) {
  const auto t = ring();
  const auto levels = start_levels(t);
  std::size_t total = 0;
  for (const auto& l : levels)
    total += l.size();
  EXPECT_EQ(total, 2u);
}

std::map<std::string, std::vector<std::string>> waits(const std::vector<StartStep>& plan) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& step : plan) {
    auto& w = out[step.node->name];
    for (const auto* n : step.waits_for)
      w.push_back(n->name);
  }
  return out;
}

TEST(LaunchPlan, EachNodeWaitsOnlyForItsOwnConsumers) {
  const auto t = shop();  // the plan points into it
  const auto plan = start_plan(t, start_levels(t));
  ASSERT_EQ(plan.size(), 5u);
  EXPECT_EQ(plan.front().node->name, "order") << "the plan lists the nodes level by level";
  const std::map<std::string, std::vector<std::string>> expected{
      {"order", {}},
      {"pricing", {"order"}},
      {"product", {"pricing", "order"}},  // both read `resolved`; order also `rejections`, once
      {"basket", {"product"}},
      {"client", {"basket"}}};
  EXPECT_EQ(waits(plan), expected);
}

TEST(LaunchPlan, IndependentChainsDoNotWaitForEachOther) {
  // Level by level, `fast-source` would wait for `slow-sink` too; it must not.
  const auto t = parse_topology(R"(
topology: pairs
channels: {a: {}, b: {}}
nodes:
  fast-source: {exec: /bin/true, outputs: {out: a}}
  fast-sink: {exec: /bin/true, inputs: {in: a}}
  slow-source: {exec: /bin/true, outputs: {out: b}}
  slow-sink: {exec: /bin/true, inputs: {in: b}}
)",
                                "pairs.yaml");
  const std::map<std::string, std::vector<std::string>> expected{{"fast-source", {"fast-sink"}},
                                                                 {"fast-sink", {}},
                                                                 {"slow-source", {"slow-sink"}},
                                                                 {"slow-sink", {}}};
  EXPECT_EQ(waits(start_plan(t, start_levels(t))), expected);
}

TEST(LaunchPlan, ACycleStartsWithoutWaitingForItself) {
  const auto t = ring();
  const auto plan = start_plan(t, start_levels(t));
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_TRUE(plan[0].waits_for.empty()) << "the first node of a cycle waits for nobody";
  ASSERT_EQ(plan[1].waits_for.size(), 1u);
  EXPECT_EQ(plan[1].waits_for[0], plan[0].node);
  EXPECT_EQ(waits(start_plan(t, start_levels(t, {"y"}))),
            (std::map<std::string, std::vector<std::string>>{{"y", {}}}))
      << "a reader that is not selected is not waited for";
}

TEST(LaunchPlan, ChannelsDownstreamOfJobsSkipIndependentSources) {
  auto t = parse_topology(R"(
topology: scaled
channels: {cart: {}, resolved: {}, updates: {pattern: pubsub}, audit: {}}
nodes:
  client: {exec: /bin/true, job: true, outputs: {out: cart}}
  product: {exec: /bin/true, inputs: {in: cart, updates: updates}, outputs: {out: resolved}}
  catalog: {exec: /bin/true, outputs: {out: updates}}
  order: {exec: /bin/true, inputs: {in: resolved}}
  auditor: {exec: /bin/true, inputs: {in: updates}, outputs: {out: audit}}
  archive: {exec: /bin/true, inputs: {in: audit}}
)",
                          "scaled.yaml");
  EXPECT_EQ(channels_downstream_of_jobs(t), (std::set<std::string>{"cart", "resolved"}));
}

ListReply sample(std::uint64_t received, std::uint64_t pending, int instances = 2) {
  ListReply l;
  for (int i = 0; i < instances; ++i) {
    InstanceInfo info;
    info.node = "n";
    info.instance = static_cast<std::uint32_t>(i);
    info.counters.channels["c"].received = received;
    info.counters.channels["c"].pending = pending;
    l.instances.push_back(info);
  }
  return l;
}

TEST(DrainDetector, NeedsStableCountersForTheQuietPeriod) {
  DrainDetector d(500ms);
  const auto t0 = DrainDetector::Clock::now();
  EXPECT_FALSE(d.observe(sample(10, 0), t0));
  EXPECT_FALSE(d.observe(sample(10, 0), t0 + 300ms)) << "not quiet for long enough yet";
  EXPECT_FALSE(d.observe(sample(11, 0), t0 + 600ms)) << "a counter moved: start over";
  EXPECT_FALSE(d.observe(sample(11, 0), t0 + 1000ms));
  EXPECT_TRUE(d.observe(sample(11, 0), t0 + 1100ms));
}

TEST(DrainDetector, PendingMessagesOrInstanceChangesKeepItBusy) {
  DrainDetector d(100ms);
  const auto t0 = DrainDetector::Clock::now();
  EXPECT_FALSE(d.observe(sample(5, 3), t0));
  EXPECT_FALSE(d.observe(sample(5, 3), t0 + 1s)) << "held messages are not drained";
  EXPECT_EQ(d.pending(), 6u);
  EXPECT_FALSE(d.observe(sample(5, 0), t0 + 2s));
  EXPECT_FALSE(d.observe(sample(5, 0, 1), t0 + 2500ms)) << "an instance left";
  EXPECT_TRUE(d.observe(sample(5, 0, 1), t0 + 2700ms));
}

TEST(DrainDetector, UnacknowledgedMessagesAreNotDrained) {
  DrainDetector d(100ms);
  const auto t0 = DrainDetector::Clock::now();
  ListReply l = sample(5, 0);
  l.instances[0].counters.channels["c"].in_flight = 7;  // a stalled consumer holds them
  EXPECT_FALSE(d.observe(l, t0));
  EXPECT_FALSE(d.observe(l, t0 + 1s)) << "counters are still, but 7 messages wait for an ack";
  l.instances[0].counters.channels["c"].in_flight = 0;
  EXPECT_FALSE(d.observe(l, t0 + 2s));
  EXPECT_TRUE(d.observe(l, t0 + 2200ms));
}

TEST(DrainDetector, IgnoresChannelsItIsNotWatching) {
  DrainDetector d(100ms, {"c"});
  const auto t0 = DrainDetector::Clock::now();
  ListReply l = sample(5, 0);
  EXPECT_FALSE(d.observe(l, t0));
  for (int k = 1; k <= 3; ++k) {
    l.instances[0].counters.channels["ticks"].received = static_cast<std::uint64_t>(k) * 100;
    EXPECT_EQ(d.observe(l, t0 + k * 60ms), k >= 2) << "a periodic source on 'ticks' does not count";
  }
}

TEST(LossReport, SumsStopReportsAndNamesWhatWasNotDelivered) {
  Topology t = parse_topology(R"(
topology: losses
channels:
  work: {dead_letter: work-dead, external: true}
  work-dead: {external: true}
  plain: {external: true}
nodes:
  worker: {exec: /bin/true, inputs: {in: work, other: plain}}
)",
                              "losses.yaml");
  t.file = "losses.yaml";  // what `brook up` loaded
  ChannelTotals totals;
  EXPECT_FALSE(add_stop_report("", totals));
  // Two incarnations; a counter this launcher does not know and a malformed item are skipped.
  EXPECT_TRUE(
      add_stop_report("STOPPED work:handler_errors=6 work:retried=3 work:dead_lettered=2 "
                      "work:newer_counter=9 junk plain:decode_errors=1\n",
                      totals));
  EXPECT_TRUE(
      add_stop_report("STOPPED work:dead_lettered=1 work:handler_errors=1 "
                      "work-dead:dropped=4",
                      totals));
  EXPECT_EQ(failed_for_good(totals["work"]), 4u);  // 7 attempts threw, 3 of them were retried
  EXPECT_EQ(totals["work"].dead_lettered, 3u);
  const auto lines = describe_losses("worker.0", totals, t);
  const std::vector<std::string> expected{
      "worker.0: 1 message(s) from 'plain' failed or did not decode, and were discarded (the "
      "channel has no "
      "dead_letter channel)",
      "worker.0: 3 message(s) from 'work' dead-lettered to 'work-dead' (brook dead ls work-dead "
      "--topology losses.yaml)",
      "worker.0: 1 message(s) from 'work' failed or did not decode, and were discarded (not "
      "dead-lettered: undecodable, or the dead-letter channel refused them; see its log)",
      "worker.0: 4 message(s) to 'work-dead' dropped (on_full: drop, or a tap too slow)"};
  EXPECT_EQ(lines, expected);
  EXPECT_TRUE(describe_losses("worker.0", ChannelTotals{}, t).empty());
}

}  // namespace
}  // namespace brook::launch
