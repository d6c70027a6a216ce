// Per-key order across TCP resets (docs/reliability.md, "Ordering"): an at-least-once
// `order_by: key` channel whose consumers are advertised on 127.0.0.7, with TCP resets injected
// on that address only (iptables REJECT --reject-with tcp-reset, random per packet) and no
// process dying. Every message must be handled, and each key's messages handled for the first
// time in the order they were emitted. The test runs in a private network namespace it creates
// (so the host's firewall is untouched and the rule dies with the test) and skips where that or
// iptables is unavailable.
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "support/cluster.hpp"
#include "support/command.hpp"
#include "support/process.hpp"

namespace brook::test {
namespace {

// The iptables rule (after -A or -D) answering `probability` of the packets with a reset;
// BROOK_RESET_PROBABILITY overrides it, for heavier fault runs.
std::vector<std::string> rule(const std::string& probability) {
  const char* p = std::getenv("BROOK_RESET_PROBABILITY");
  std::istringstream words("OUTPUT -d 127.0.0.7 -p tcp -m statistic --mode random --probability " +
                           (p != nullptr && *p != '\0' ? std::string(p) : probability) +
                           " -j REJECT --reject-with tcp-reset");
  std::vector<std::string> r;
  for (std::string w; words >> w;)
    r.push_back(w);
  return r;
}

std::string find_tool(const char* name) {
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
    const std::string p = std::string(dir) + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return {};
}

// The reset rule in this process's own network namespace; removed when it goes out of scope
// (the namespace, and the rule with it, also dies with the process).
class ResetRule {
 public:
  // Empty `why_not` on success.
  ResetRule(const std::string& probability, std::string& why_not) : rule_(rule(probability)) {
    iptables_ = find_tool("iptables");
    const std::string ip = find_tool("ip");
    if (iptables_.empty() || ip.empty()) {
      why_not = "iptables or ip(8) not installed: TCP resets cannot be injected";
      return;
    }
    if (::unshare(CLONE_NEWNET) != 0) {
      why_not = std::string("cannot create a private network namespace (unshare: ") +
                std::strerror(errno) + "; needs root or CAP_SYS_ADMIN)";
      return;
    }
    if (const auto r = run_command({ip, "link", "set", "lo", "up"}); r.code != 0) {
      why_not = "cannot bring up loopback in the namespace: " + r.describe();
      return;
    }
    std::vector<std::string> add = {iptables_, "-A"};
    add.insert(add.end(), rule_.begin(), rule_.end());
    if (const auto r = run_command(add); r.code != 0) {
      why_not = "iptables cannot add the reset rule (no xt_statistic/REJECT?): " + r.describe();
      return;
    }
    added_ = true;
  }
  ~ResetRule() {
    if (!added_) return;
    std::vector<std::string> del = {iptables_, "-D"};
    del.insert(del.end(), rule_.begin(), rule_.end());
    (void)run_command(del);
  }
  ResetRule(const ResetRule&) = delete;
  ResetRule& operator=(const ResetRule&) = delete;

  // How many packets the rule rejected with a reset so far.
  std::uint64_t resets() const {
    const auto r = run_command({iptables_, "-L", "OUTPUT", "-v", "-x", "-n"});
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("REJECT") == std::string::npos) continue;
      std::istringstream fields(line);
      std::uint64_t packets = 0;
      if (fields >> packets) return packets;
    }
    return 0;
  }

 private:
  std::vector<std::string> rule_;
  std::string iptables_;
  bool added_ = false;
};

struct OrderCheck {
  std::uint64_t handled = 0;     // journal lines
  std::uint64_t distinct = 0;    // n handled at least once
  std::uint64_t duplicates = 0;  // further handlings of an n
  // Handlings of an n at a replica after a later n of the same key at that replica (an n the
  // replica handled before is a re-delivery, counted in duplicates only).
  std::uint64_t violations = 0;
  std::vector<std::string> examples;
};

// brook-test-sink journals ("source n seq key reason"), one per replica, in handling order.
OrderCheck check_order(const std::vector<std::filesystem::path>& journals) {
  OrderCheck c;
  std::set<std::uint64_t> seen;
  for (const auto& path : journals) {
    std::ifstream in(path);
    std::set<std::uint64_t> here;
    std::map<std::string, std::uint64_t> highest;  // per key, at this replica
    std::string source, key, reason;
    std::uint64_t n = 0, seq = 0;
    while (in >> source >> n >> seq >> key >> reason) {
      ++c.handled;
      if (seen.insert(n).second) {
        ++c.distinct;
      } else {
        ++c.duplicates;
      }
      if (!here.insert(n).second) continue;
      std::uint64_t& top = highest[key];
      if (n < top) {
        ++c.violations;
        if (c.examples.size() < 5) {
          c.examples.push_back(path.filename().string() + ": key " + key + " got " +
                               std::to_string(n) + " after " + std::to_string(top));
        }
      }
      top = std::max(top, n);
    }
  }
  return c;
}

std::uint64_t count_lines(const std::string& log, const std::string& what) {
  std::uint64_t n = 0;
  for (auto pos = log.find(what); pos != std::string::npos; pos = log.find(what, pos + 1))
    ++n;
  return n;
}

void run_resets(std::uint32_t replicas, const std::string& probability) {
  std::string why_not;
  ResetRule rule(probability, why_not);
  if (!why_not.empty()) GTEST_SKIP() << why_not;

  constexpr std::uint64_t kCount = 30000;
  Cluster c;
  c.start_directory();
  // The source's drain_timeout: a reset just after its stop began leaves it messages to re-send
  // once the replica reconnects, which the default 2 s did not always leave time for (957
  // unacknowledged, exit status 1, in one full scripts/test run).
  c.write_topology(R"(
topology: reset-order
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms, ttl: 5s}
channels:
  work: {delivery: at-least-once, order_by: key, ack_timeout: 10s}
nodes:
  source: {exec: brook-test-source, outputs: {out: work}, drain_timeout: 30s,
           params: {count: 30000, rate: 6000, keys: 64}}
  sink: {exec: brook-test-sink, replicas: )" +
                   std::to_string(replicas) + R"(, inputs: {in: work},
         params: {journal: "{DIR}/journal-{instance}.txt"}}
)");
  std::vector<Process> sinks;
  std::vector<std::filesystem::path> journals;
  for (std::uint32_t i = 0; i < replicas; ++i) {
    sinks.push_back(c.start_node("brook-test-sink", "sink", i, {"--advertise", "127.0.0.7"}));
    journals.push_back(c.dir() / ("journal-" + std::to_string(i) + ".txt"));
  }
  auto source = c.start_node("brook-test-source", "source");
  const std::optional<int> source_exit = source.wait(90s);
  // Every message the source emitted was acknowledged before it exited (its drain): the sinks
  // journaled each before acknowledging it.
  const std::uint64_t resets = rule.resets();
  for (auto& s : sinks)
    ASSERT_EQ(s.stop(), 0) << s.log();
  ASSERT_EQ(source_exit, 0) << source.log();
  const OrderCheck o = check_order(journals);
  std::cout << "[ measured ] TCP resets on the consumers' address, order_by: key, " << replicas
            << " replica(s): sent " << kCount << ", handled " << o.handled << " (" << o.distinct
            << " distinct, " << o.duplicates << " duplicates), lost " << kCount - o.distinct
            << ", resets injected " << resets << ", per-key order violations " << o.violations
            << ", disconnects the producer saw "
            << count_lines(source.log(), "unacknowledged messages; re-sending") << "\n";
  for (const auto& e : o.examples)
    std::cout << "  " << e << "\n";
  EXPECT_GT(resets, 0u) << "no reset was injected: the test proved nothing";
  EXPECT_EQ(o.distinct, kCount);
  EXPECT_EQ(o.violations, 0u);
}

// The fault run of issue 15: 0.2 % of the packets.
TEST(AtLeastOnceResets, KeyOrderHoldsAcrossTcpResetsToOneReplica) {
  run_resets(1, "0.002");
}

// 1 %: resets close together, while the consumers still hold earlier connections' envelopes.
TEST(AtLeastOnceResets, KeyOrderHoldsAcrossTcpResetsToTwoReplicas) {
  run_resets(2, "0.01");
}

// The shop under `brook up --advertise 127.0.0.7` with 0.2 % of the packets to every node's
// inputs answered by a reset (the directory, on 127.0.0.1, is spared): every valid basket must
// still become exactly one correct order (issue 15's TCP-reset runs).
// The shop with its nodes advertised on 127.0.0.7, where 0.2 % of packets get a TCP reset;
// with `chaos_seed`, scripts/chaos also kills and stops basket, product, pricing, order and the
// directory meanwhile. Every basket must still get exactly one correct outcome.
void expect_the_shop_exact_under_resets(int baskets, int rate, std::optional<int> chaos_seed) {
  std::string why_not;
  ResetRule rule("0.002", why_not);
  if (!why_not.empty()) GTEST_SKIP() << why_not;
  TempDir dir;
  const int port = free_port();
  Process up = Process::start({.argv = {bin("brook"), "up", source_path("topologies/shop.yaml"),
                                        "--quiet", "--advertise", "127.0.0.7"},
                               .env = {{"SHOP_DB", (dir.path() / "shop.db").string()},
                                       {"SHOP_STATE_DIR", (dir.path() / "state").string()},
                                       {"SHOP_DEAD_LETTERS", (dir.path() / "dead.jsonl").string()},
                                       {"SHOP_MANIFEST", (dir.path() / "manifest.jsonl").string()},
                                       {"SHOP_BASKETS", std::to_string(baskets)},
                                       {"SHOP_RATE", std::to_string(rate)},
                                       {"SHOP_SEED", "11"},
                                       {"BROOK_DIRECTORY_PORT", std::to_string(port)}},
                               .log = dir.path() / "up.log",
                               .wait_ready = true,
                               .ready_timeout = 60s});
  std::string faults = "no other faults";
  if (chaos_seed) {
    const auto chaos = run_command(
        {"/usr/bin/python3", source_path("scripts/chaos"), "--directory",
         "tcp://127.0.0.1:" + std::to_string(port), "--bin", BROOK_BIN_DIR, "--seed",
         std::to_string(*chaos_seed), "--interval", "0.7", "--while-pid", std::to_string(up.pid())},
        240s);
    ASSERT_EQ(chaos.code, 0) << chaos.describe();
    faults = chaos.out.substr(chaos.out.rfind("chaos: t="));
    faults.erase(faults.find_last_not_of('\n') + 1);
  }
  const auto code = up.wait(150s);
  ASSERT_TRUE(code.has_value()) << tail(up.log_path(), 80);
  EXPECT_EQ(*code, 0) << tail(up.log_path(), 80);
  const std::uint64_t resets = rule.resets();
  const auto r = run_command({bin("brook-shop-report"), "--db", (dir.path() / "shop.db").string(),
                              "--manifest", (dir.path() / "manifest.jsonl").string(), "--topology",
                              source_path("topologies/shop.yaml"), "--json"},
                             60s);
  ASSERT_TRUE(r.code == 0 || r.code == 1) << r.describe();
  const auto report = nlohmann::json::parse(r.out);
  const auto lost = report["orders_missing"].get<std::size_t>() +
                    report["orders_incomplete"].get<std::size_t>() +
                    report["invalid_without_rejection"].get<std::size_t>();
  const auto wrong = report["orders_wrong"].get<std::size_t>() +
                     report["valid_rejected"].get<std::size_t>() +
                     report["invalid_with_order"].get<std::size_t>();
  std::cout << "[ measured ] shop under TCP resets (0.2 %, " << resets << " resets; " << faults
            << "): sent " << baskets << ", valid " << report["valid"] << ", orders "
            << report["orders_complete"] << ", lost " << lost << ", wrong " << wrong << "\n";
  EXPECT_GT(resets, 0u) << "no reset was injected: the test proved nothing";
  EXPECT_EQ(lost, 0u) << report.dump(2);
  EXPECT_EQ(wrong, 0u) << report.dump(2);
  EXPECT_TRUE(report["ok"].get<bool>()) << report.dump(2);
}

TEST(AtLeastOnceResets, TheShopStaysExactUnderTcpResets) {
  expect_the_shop_exact_under_resets(10000, 1500, std::nullopt);
}

// Resets and kills at once, flat out: a consumer stopped while a reset producer's reconnect was
// contested once gave the new connection a fresh de-duplication record (6 baskets doubled).
TEST(AtLeastOnceResets, TheShopStaysExactUnderTcpResetsAndARandomFaultMix) {
  expect_the_shop_exact_under_resets(30000, 0, 10);
}

}  // namespace
}  // namespace brook::test
