#include "directory_logic.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace brook {
namespace {

using namespace std::chrono_literals;
using Clock = DirectoryRegistry::Clock;

Registration input(std::string channel, std::string endpoint) {
  return Registration{std::move(channel),  Direction::kIn, Pattern::kPipeline,
                      std::move(endpoint), "in",           false};
}

RegisterRequest reg(std::string node, std::uint32_t instance, std::string incarnation,
                    std::vector<Registration> regs) {
  RegisterRequest r;
  r.node = std::move(node);
  r.instance = instance;
  r.incarnation = std::move(incarnation);
  r.pid = 1234;
  r.registrations = std::move(regs);
  return r;
}

class DirectoryLogic : public ::testing::Test {
 protected:
  DirectoryConfig config() {
    DirectoryConfig c;
    c.default_ttl = 3000ms;
    c.heartbeat = 1000ms;
    c.pub_endpoint = "tcp://127.0.0.1:9999";
    return c;
  }
  Clock::time_point t0 = Clock::now();
  DirectoryRegistry dir{config(), "epoch-1", t0};
  std::vector<DirectoryUpdate> changes;

  DirectoryReplyBody send(const DirectoryRequestBody& r, Clock::duration at) {
    changes.clear();
    return dir.handle(r, t0 + at, changes);
  }
  std::vector<DirectoryEntry> snapshot(Clock::duration at) {
    std::vector<DirectoryUpdate> none;
    auto r = dir.handle(SnapshotRequest{}, t0 + at, none);
    return std::get<EntriesReply>(r).entries;
  }
};

TEST_F(DirectoryLogic, RegistrationPublishesNumberedAdds) {
  auto r =
      send(reg("product", 0, "a", {input("checkouts", "tcp://h:1"), input("x", "tcp://h:2")}), 0ms);
  ASSERT_TRUE(std::holds_alternative<AckReply>(r));
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].seq, 1u);
  EXPECT_EQ(changes[1].seq, 2u);
  EXPECT_EQ(changes[0].op, ChangeOp::kAdd);
  EXPECT_EQ(changes[0].epoch, "epoch-1");
  EXPECT_EQ(changes[0].entry.instance_name(), "product.0");
  EXPECT_EQ(std::get<AckReply>(r).state.seq, 2u);
  EXPECT_EQ(snapshot(1ms).size(), 2u);
}

TEST_F(DirectoryLogic, ReRegisteringTheSameIncarnationPublishesOnlyTheDifference) {
  (void)send(reg("product", 0, "a", {input("checkouts", "tcp://h:1"), input("x", "tcp://h:2")}),
             0ms);
  (void)send(reg("product", 0, "a", {input("checkouts", "tcp://h:1"), input("y", "tcp://h:3")}),
             10ms);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].op, ChangeOp::kRemove);
  EXPECT_EQ(changes[0].entry.reg.channel, "x");
  EXPECT_EQ(changes[1].op, ChangeOp::kAdd);
  EXPECT_EQ(changes[1].entry.reg.channel, "y");

  (void)send(reg("product", 0, "a", {input("checkouts", "tcp://h:1"), input("y", "tcp://h:3")}),
             20ms);
  EXPECT_TRUE(changes.empty()) << "an identical re-registration must not disturb watchers";
}

TEST_F(DirectoryLogic, ANewIncarnationReplacesTheOldOneOnlyOnceItsLeaseLapsed) {
  (void)send(reg("product", 1, "old", {input("checkouts", "tcp://h:1")}), 0ms);
  // While the holder's lease runs, a claim for its name is refused and changes nothing.
  auto refused = send(reg("product", 1, "new", {input("checkouts", "tcp://h:7")}), 100ms);
  ASSERT_TRUE(std::holds_alternative<ErrorReply>(refused));
  EXPECT_EQ(std::get<ErrorReply>(refused).code, DirectoryErrc::kStaleIncarnation);
  EXPECT_NE(std::get<ErrorReply>(refused).detail.find("another 2900 ms"), std::string::npos)
      << std::get<ErrorReply>(refused).detail;
  EXPECT_TRUE(changes.empty());
  ASSERT_TRUE(
      std::holds_alternative<AckReply>(send(HeartbeatRequest{"product", 1, "old", {}}, 200ms)));

  (void)send(reg("product", 1, "new", {input("checkouts", "tcp://h:7")}), 3300ms);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].op, ChangeOp::kRemove);
  EXPECT_EQ(changes[0].reason, ChangeReason::kReplaced);
  EXPECT_EQ(changes[0].entry.incarnation, "old");
  EXPECT_EQ(changes[1].op, ChangeOp::kAdd);
  EXPECT_EQ(changes[1].entry.reg.endpoint, "tcp://h:7");

  HeartbeatRequest hb{"product", 1, "old", {}};
  auto r = send(hb, 3400ms);
  ASSERT_TRUE(std::holds_alternative<ErrorReply>(r));
  EXPECT_EQ(std::get<ErrorReply>(r).code, DirectoryErrc::kStaleIncarnation);
}

TEST_F(DirectoryLogic, LeasesExpireAfterTtlAndHeartbeatsRenewThem) {
  (void)send(reg("pricing", 0, "a", {input("resolved", "tcp://h:1")}), 0ms);
  (void)send(reg("pricing", 1, "b", {input("resolved", "tcp://h:2")}), 0ms);
  EXPECT_EQ(dir.next_expiry(), t0 + 3000ms);

  // Instance 1 keeps heartbeating; instance 0 went silent.
  for (auto at : {900ms, 1900ms, 2900ms}) {
    ASSERT_TRUE(
        std::holds_alternative<AckReply>(send(HeartbeatRequest{"pricing", 1, "b", {}}, at)));
  }
  changes.clear();
  dir.expire(t0 + 3000ms, changes);
  EXPECT_TRUE(changes.empty()) << "a lease is valid up to and including its TTL";
  dir.expire(t0 + 3001ms, changes);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].op, ChangeOp::kRemove);
  EXPECT_EQ(changes[0].reason, ChangeReason::kExpired);
  EXPECT_EQ(changes[0].entry.instance_name(), "pricing.0");
  EXPECT_EQ(dir.instance_count(), 1u);

  auto r = send(HeartbeatRequest{"pricing", 0, "a", {}}, 3100ms);
  ASSERT_TRUE(std::holds_alternative<ErrorReply>(r));
  EXPECT_EQ(std::get<ErrorReply>(r).code, DirectoryErrc::kUnknownInstance);
}

TEST_F(DirectoryLogic, AStallOfTheDirectoryIsGivenBackToEveryLease) {
  (void)send(reg("pricing", 0, "a", {input("resolved", "tcp://h:1")}), 0ms);
  (void)send(reg("pricing", 1, "b", {input("resolved", "tcp://h:2")}), 2000ms);
  // The directory was stopped from 2.5 s to 9.5 s: 7 s it could not hear heartbeats in.
  dir.extend_leases(7000ms, t0 + 9500ms);
  changes.clear();
  dir.expire(t0 + 9500ms, changes);
  EXPECT_TRUE(changes.empty()) << "no lease runs out for time the directory did not run";
  EXPECT_EQ(dir.next_expiry(), t0 + 10000ms) << "the silent instance still expires, a ttl later";
  dir.expire(t0 + 10001ms, changes);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].entry.instance_name(), "pricing.0");
  // Never beyond now: a lease cannot be pushed into the future.
  dir.extend_leases(1h, t0 + 10001ms);
  EXPECT_EQ(dir.next_expiry(), t0 + 10001ms + 3000ms);
}

TEST_F(DirectoryLogic, RequestedLeaseIsClamped) {
  auto r = reg("order", 0, "a", {input("resolved", "tcp://h:1")});
  r.lease_ms = 5;  // below min_ttl
  (void)send(r, 0ms);
  EXPECT_EQ(dir.next_expiry(), t0 + config().min_ttl);
}

TEST_F(DirectoryLogic, UnregisterRemovesEverything) {
  (void)send(reg("order", 0, "a", {input("resolved", "tcp://h:1")}), 0ms);
  auto r = send(UnregisterRequest{"order", 0, "a"}, 5ms);
  ASSERT_TRUE(std::holds_alternative<AckReply>(r));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].reason, ChangeReason::kUnregistered);
  EXPECT_TRUE(snapshot(6ms).empty());
}

TEST_F(DirectoryLogic, SettlesOneTtlAfterStart) {
  EXPECT_FALSE(dir.state(t0 + 2999ms).settled);
  EXPECT_TRUE(dir.state(t0 + 3000ms).settled);
  auto hello = std::get<HelloReply>(send(HelloRequest{}, 10ms));
  EXPECT_EQ(hello.pub_endpoint, "tcp://127.0.0.1:9999");
  EXPECT_EQ(hello.ttl_ms, 3000u);
  EXPECT_EQ(hello.heartbeat_ms, 1000u);
  EXPECT_EQ(hello.state.epoch, "epoch-1");
}

TEST_F(DirectoryLogic, ResolveFiltersByChannel) {
  (void)send(reg("a", 0, "x", {input("one", "tcp://h:1"), input("two", "tcp://h:2")}), 0ms);
  auto r = std::get<EntriesReply>(send(ResolveRequest{"two"}, 1ms));
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].reg.endpoint, "tcp://h:2");
}

TEST_F(DirectoryLogic, EachUpdateNamesThePreviousUpdateOfItsChannel) {
  send(reg("a", 0, "i1", {input("x", "tcp://h:1"), input("y", "tcp://h:2")}), 0ms);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].prev, 0u) << "x's first update";
  EXPECT_EQ(changes[1].prev, 0u) << "y's first update";
  send(reg("b", 0, "i2", {input("x", "tcp://h:3")}), 10ms);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].seq, 3u);
  EXPECT_EQ(changes[0].prev, 1u) << "x's previous update was seq 1; y's (2) is not x's business";
  send(UnregisterRequest{"a", 0, "i1"}, 20ms);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].prev + changes[1].prev, 3u + 2u) << "x after 3, y after 2";
}

TEST_F(DirectoryLogic, SnapshotOfChosenChannelsCarriesTheirLastSeq) {
  send(reg("a", 0, "i1", {input("x", "tcp://h:1"), input("y", "tcp://h:2")}), 0ms);
  send(reg("b", 0, "i2", {input("x", "tcp://h:3")}), 10ms);
  std::vector<DirectoryUpdate> none;
  const auto r =
      std::get<EntriesReply>(dir.handle(SnapshotRequest{{"x", "never-used"}}, t0 + 20ms, none));
  ASSERT_EQ(r.entries.size(), 2u);
  for (const auto& e : r.entries)
    EXPECT_EQ(e.reg.channel, "x");
  EXPECT_EQ(r.channel_seq, (std::map<std::string, std::uint64_t>{{"x", 3}}))
      << "y not asked for; a channel without updates is not listed";
  EXPECT_EQ(r.state.seq, 3u);
  const auto all = std::get<EntriesReply>(dir.handle(SnapshotRequest{}, t0 + 20ms, none));
  EXPECT_EQ(all.entries.size(), 3u);
  EXPECT_EQ(all.channel_seq.size(), 2u);
}

std::map<std::string, std::uint64_t> by_channel(const std::vector<DirectoryMark>& marks) {
  std::map<std::string, std::uint64_t> out;
  for (const auto& m : marks) {
    EXPECT_EQ(m.epoch, "epoch-1");
    out[m.channel] = m.seq;
  }
  return out;
}

TEST_F(DirectoryLogic, MarksShowHowFarEachRecentlyChangedChannelHasGone) {
  send(reg("a", 0, "i1", {input("x", "tcp://h:1")}), 0ms);
  send(reg("b", 0, "i2", {input("y", "tcp://h:2"), input("x", "tcp://h:3")}), 9s);
  EXPECT_EQ(by_channel(dir.marks(t0 + 9500ms)),
            (std::map<std::string, std::uint64_t>{{"x", 3}, {"y", 2}}));
  send(UnregisterRequest{"a", 0, "i1"}, 9600ms);  // x changes again (seq 4)
  EXPECT_EQ(by_channel(dir.marks(t0 + 19500ms)), (std::map<std::string, std::uint64_t>{{"x", 4}}))
      << "y last changed 10.5 s ago";
  EXPECT_TRUE(dir.marks(t0 + 20s).empty()) << "quiet channels cost nothing";
}

TEST_F(DirectoryLogic, ListReportsCountersAndAges) {
  (void)send(reg("a", 0, "x", {input("one", "tcp://h:1")}), 0ms);
  HeartbeatRequest hb{"a", 0, "x", {}};
  hb.counters.channels["one"].received = 77;
  (void)send(hb, 1000ms);
  auto r = std::get<ListReply>(send(ListRequest{}, 1500ms));
  ASSERT_EQ(r.instances.size(), 1u);
  EXPECT_EQ(r.instances[0].counters.channels.at("one").received, 77u);
  EXPECT_EQ(r.instances[0].age_ms, 500u);
  EXPECT_EQ(r.instances[0].registered_ms, 1500u);
  EXPECT_EQ(r.instances[0].pid, 1234u);
}

TEST_F(DirectoryLogic, RejectsInvalidRegistrations) {
  auto bad_name = reg("no.dots", 0, "x", {});
  auto r = send(bad_name, 0ms);
  ASSERT_TRUE(std::holds_alternative<ErrorReply>(r));
  EXPECT_EQ(std::get<ErrorReply>(r).code, DirectoryErrc::kBadRequest);
  auto no_endpoint = reg("ok", 0, "x", {input("c", "")});
  r = send(no_endpoint, 0ms);
  ASSERT_TRUE(std::holds_alternative<ErrorReply>(r));
  EXPECT_NE(std::get<ErrorReply>(r).detail.find("no endpoint"), std::string::npos);
  EXPECT_TRUE(changes.empty());
}

TEST_F(DirectoryLogic, RefusesBeyondMaxInstances) {
  DirectoryConfig c = config();
  c.max_instances = 2;
  DirectoryRegistry small(c, "e", t0);
  std::vector<DirectoryUpdate> ch;
  EXPECT_TRUE(std::holds_alternative<AckReply>(small.handle(reg("a", 0, "x", {}), t0, ch)));
  EXPECT_TRUE(std::holds_alternative<AckReply>(small.handle(reg("a", 1, "x", {}), t0, ch)));
  auto r = small.handle(reg("a", 2, "x", {}), t0, ch);
  ASSERT_TRUE(std::holds_alternative<ErrorReply>(r));
  EXPECT_EQ(std::get<ErrorReply>(r).code, DirectoryErrc::kDenied);
}

TEST(DirectoryAuthorize, KeysSpeakOnlyForTheirOwnNode) {
  RegisterRequest reg;
  reg.node = "basket";
  EXPECT_EQ(authorize(reg, "basket"), "");
  EXPECT_NE(authorize(reg, "order").find("cannot register node 'basket'"), std::string::npos);
  EXPECT_NE(authorize(reg, "cli").find("cannot"), std::string::npos);
  HeartbeatRequest hb;
  hb.node = "basket";
  EXPECT_NE(authorize(hb, "order"), "");
  UnregisterRequest un;
  un.node = "basket";
  EXPECT_NE(authorize(un, "order"), "");
  reg.node = "cli-brook-tap-42";
  EXPECT_EQ(authorize(reg, "cli"), "") << "the tools' own short-lived nodes";
  EXPECT_NE(authorize(reg, "basket"), "");
  EXPECT_EQ(authorize(ResolveRequest{"checkouts"}, "order"), "") << "look-ups for any allowed key";
  EXPECT_EQ(authorize(ListRequest{}, "cli"), "");
}

// A node's key may not add replicas its topology does not declare (with CURVE and a topology).
TEST(DirectoryAuthorize, RegistrationsStayWithinTheDeclaredReplicas) {
  DeclaredNodes declared;
  declared.topology = "shop";
  declared.replicas = {{"basket", 2}};
  RegisterRequest reg;
  reg.node = "basket";
  reg.instance = 1;
  reg.topology = "shop";
  EXPECT_EQ(authorize(reg, "basket", declared), "");
  reg.topology = "other";
  EXPECT_EQ(authorize(reg, "basket", declared),
            "node 'basket' registers for topology 'other', but this directory serves topology "
            "'shop'; start that topology with its own directory");
  reg.topology = "shop";
  reg.instance = 2;
  EXPECT_EQ(
      authorize(reg, "basket", declared),
      "instance 2 of node 'basket' is beyond the 2 replica(s) topology 'shop' declares for it");
  EXPECT_EQ(authorize(reg, "basket"), "") << "a directory without a topology takes any instance";
  reg.node = "spare";
  reg.instance = 0;
  EXPECT_EQ(authorize(reg, "spare", declared),
            "node 'spare' is not in topology 'shop', which this directory serves");
  reg.node = "cli-brook-tap-42";
  EXPECT_EQ(authorize(reg, "cli", declared), "") << "the tools' own nodes are not declared";
  HeartbeatRequest hb;
  hb.node = "basket";
  hb.instance = 7;
  EXPECT_EQ(authorize(hb, "basket", declared), "") << "a heartbeat follows an accepted register";
}

// Two topologies on one directory, both with a node "worker" and a channel "jobs": each keeps its
// instance names, endpoints, updates and marks to itself.
TEST_F(DirectoryLogic, TopologiesOnOneDirectoryDoNotMeet) {
  auto in_scope = [](std::string topology, std::string incarnation, std::string endpoint) {
    auto r = reg("worker", 0, std::move(incarnation), {input("jobs", std::move(endpoint))});
    r.topology = std::move(topology);
    return r;
  };
  ASSERT_TRUE(std::holds_alternative<AckReply>(send(in_scope("a", "i1", "tcp://h:1"), 0ms)));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].entry.topology, "a");
  ASSERT_TRUE(std::holds_alternative<AckReply>(send(in_scope("b", "i2", "tcp://h:2"), 1ms)))
      << "worker.0 of topology b is not worker.0 of topology a";
  EXPECT_EQ(changes[0].prev, 0u) << "b's jobs is another channel than a's";
  ASSERT_TRUE(std::holds_alternative<AckReply>(send(in_scope("", "i3", "tcp://h:3"), 2ms)));

  for (const auto& [topology, endpoint] : std::map<std::string, std::string>{
           {"a", "tcp://h:1"}, {"b", "tcp://h:2"}, {"", "tcp://h:3"}}) {
    const auto r = std::get<EntriesReply>(send(ResolveRequest{"jobs", topology}, 3ms));
    ASSERT_EQ(r.entries.size(), 1u) << topology;
    EXPECT_EQ(r.entries[0].reg.endpoint, endpoint);
    EXPECT_EQ(r.entries[0].topology, topology);
    const auto snap = std::get<EntriesReply>(send(SnapshotRequest{{}, topology}, 3ms));
    ASSERT_EQ(snap.entries.size(), 1u) << topology;
    EXPECT_EQ(snap.channel_seq.size(), 1u);
  }
  // A heartbeat or unregister acts in its own scope only.
  auto hb = send(HeartbeatRequest{"worker", 0, "i1", {}, "b"}, 4ms);
  ASSERT_TRUE(std::holds_alternative<ErrorReply>(hb));
  EXPECT_EQ(std::get<ErrorReply>(hb).detail,
            "b/worker.0 is now registered by incarnation i2 (pid 1234); two processes claim the "
            "same instance");
  ASSERT_TRUE(
      std::holds_alternative<AckReply>(send(UnregisterRequest{"worker", 0, "i2", "b"}, 5ms)));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].entry.topology, "b");
  EXPECT_EQ(std::get<EntriesReply>(send(ResolveRequest{"jobs", "a"}, 6ms)).entries.size(), 1u);

  const auto marks = dir.marks(t0 + 7ms);
  ASSERT_EQ(marks.size(), 3u) << "one per scoped channel";
  std::set<std::string> scopes;
  for (const auto& m : marks)
    scopes.insert(scoped_name(m.topology, m.channel));
  EXPECT_EQ(scopes, (std::set<std::string>{"a/jobs", "b/jobs", "jobs"}));
  const auto list = std::get<ListReply>(send(ListRequest{}, 8ms));
  ASSERT_EQ(list.instances.size(), 2u) << "list shows every scope";
  EXPECT_EQ(update_topic("a", "jobs"), "update:a/jobs:");
  EXPECT_EQ(mark_topic("", "jobs"), "mark:jobs:");
}

TEST_F(DirectoryLogic, RefusesRegistrationsThatWouldOverflowAReply) {
  // 200 ports with 1000-byte endpoints: ~250 KB per instance. A node's instances stop at its
  // quota, and many nodes stop at the directory's total, so list and snapshot always fit a frame.
  std::vector<Registration> big;
  for (int i = 0; i < 200; ++i)
    big.push_back(input("c" + std::to_string(i), "tcp://" + std::string(990, 'h') + ":1"));
  std::string node_refusal, total_refusal;
  for (std::uint32_t i = 0; i < 10 && node_refusal.empty(); ++i) {
    auto r = send(reg("hog", i, "inc" + std::to_string(i), big), 0ms);
    if (auto* e = std::get_if<ErrorReply>(&r)) node_refusal = e->detail;
  }
  EXPECT_NE(node_refusal.find("524288 bytes per node"), std::string::npos) << node_refusal;
  for (int n = 0; n < 40 && total_refusal.empty(); ++n) {
    auto r = send(reg("n" + std::to_string(n), 0, "i", big), 0ms);
    if (auto* e = std::get_if<ErrorReply>(&r)) {
      EXPECT_EQ(e->code, DirectoryErrc::kTooLarge);
      total_refusal = e->detail;
    }
  }
  EXPECT_NE(total_refusal.find("limit of 3145728 bytes"), std::string::npos) << total_refusal;
  EXPECT_LE(dir.state_bytes(), kMaxStateBytes);
  std::vector<DirectoryUpdate> none;
  EXPECT_LE(encode(DirectoryReply{1, dir.handle(ListRequest{}, t0, none)}).size(),
            kMaxDirectoryFrame);
  EXPECT_LE(encode(DirectoryReply{1, dir.handle(SnapshotRequest{}, t0, none)}).size(),
            kMaxDirectoryFrame);

  // Room comes back as instances go.
  const std::size_t before = dir.state_bytes();
  ASSERT_TRUE(std::holds_alternative<AckReply>(send(UnregisterRequest{"n0", 0, "i"}, 0ms)));
  EXPECT_LT(dir.state_bytes(), before);
  dir.expire(t0 + 1h, changes);
  EXPECT_EQ(dir.state_bytes(), 0u);
}

// ---- tokens: copying a live instance's incarnation (shown by `list`) is not enough ----------

constexpr char kToken[] = "5ec2e75ec2e75ec2e75ec2e75ec2e700";
constexpr char kForged[] = "f0e9edf0e9edf0e9edf0e9edf0e9ed00";

RegisterRequest with_token(RegisterRequest r, std::string token) {
  r.token = std::move(token);
  return r;
}

// The refusal a forger gets: stale_incarnation naming the instance and the mismatch, never the
// token itself.
void expect_token_refusal(const DirectoryReplyBody& r, std::string_view what) {
  ASSERT_TRUE(std::holds_alternative<ErrorReply>(r)) << what;
  const auto& e = std::get<ErrorReply>(r);
  EXPECT_EQ(e.code, DirectoryErrc::kStaleIncarnation) << what;
  EXPECT_NE(e.detail.find("sink.0 (incarnation i1"), std::string::npos) << e.detail;
  EXPECT_NE(e.detail.find("token does not match"), std::string::npos) << e.detail;
  EXPECT_EQ(e.detail.find(kToken), std::string::npos) << e.detail;
}

TEST_F(DirectoryLogic, TheSameIncarnationWithoutItsTokenCannotReRegister) {
  ASSERT_TRUE(std::holds_alternative<AckReply>(
      send(with_token(reg("sink", 0, "i1", {input("jobs", "tcp://h:1")}), kToken), 0ms)));
  for (const std::string token : {"", kForged, "5ec2e7"}) {
    auto r = send(with_token(reg("sink", 0, "i1", {input("jobs", "tcp://evil:9")}), token), 100ms);
    expect_token_refusal(r, "register with token '" + token + "'");
    EXPECT_TRUE(changes.empty());
  }
  ASSERT_EQ(snapshot(200ms).size(), 1u);
  EXPECT_EQ(snapshot(200ms)[0].reg.endpoint, "tcp://h:1") << "the live instance's ports stay";
  EXPECT_NE(std::get<ErrorReply>(send(reg("sink", 0, "i1", {}), 100ms)).detail.find("another 2900"),
            std::string::npos);

  // The process that registered it re-registers as before (after a directory restart, say).
  auto r = send(with_token(reg("sink", 0, "i1", {input("jobs", "tcp://h:2")}), kToken), 300ms);
  ASSERT_TRUE(std::holds_alternative<AckReply>(r));
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[1].entry.reg.endpoint, "tcp://h:2");
}

TEST_F(DirectoryLogic, HeartbeatsAndUnregistersMustCarryTheToken) {
  (void)send(with_token(reg("sink", 0, "i1", {input("jobs", "tcp://h:1")}), kToken), 0ms);
  for (const std::string token : {"", kForged}) {
    expect_token_refusal(send(HeartbeatRequest{"sink", 0, "i1", {}, "", token}, 2000ms),
                         "heartbeat with '" + token + "'");
    expect_token_refusal(send(UnregisterRequest{"sink", 0, "i1", "", token}, 2000ms),
                         "unregister with '" + token + "'");
    EXPECT_TRUE(changes.empty());
  }
  EXPECT_EQ(snapshot(2000ms).size(), 1u) << "a forged unregister removes nothing";
  // A refused heartbeat did not renew the lease.
  EXPECT_EQ(dir.next_expiry(), t0 + 3000ms);

  ASSERT_TRUE(std::holds_alternative<AckReply>(
      send(HeartbeatRequest{"sink", 0, "i1", {}, "", kToken}, 2500ms)));
  EXPECT_EQ(dir.next_expiry(), t0 + 5500ms);
  ASSERT_TRUE(std::holds_alternative<AckReply>(
      send(UnregisterRequest{"sink", 0, "i1", "", kToken}, 2600ms)));
  EXPECT_TRUE(snapshot(2600ms).empty());
}

TEST_F(DirectoryLogic, ATokenlessInstanceBehavesAsBeforeTokens) {
  // A client that predates tokens: its incarnation is all a request needs, and a later request
  // with a token does not lock the process out by adding one.
  (void)send(reg("sink", 0, "i1", {input("jobs", "tcp://h:1")}), 0ms);
  ASSERT_TRUE(std::holds_alternative<AckReply>(
      send(with_token(reg("sink", 0, "i1", {input("jobs", "tcp://h:2")}), kForged), 100ms)));
  ASSERT_TRUE(std::holds_alternative<AckReply>(send(HeartbeatRequest{"sink", 0, "i1", {}}, 200ms)));
  ASSERT_TRUE(std::holds_alternative<AckReply>(
      send(with_token(reg("sink", 0, "i1", {input("jobs", "tcp://h:1")}), ""), 300ms)));
  ASSERT_TRUE(std::holds_alternative<AckReply>(send(UnregisterRequest{"sink", 0, "i1"}, 400ms)));
}

TEST_F(DirectoryLogic, OnceTheLeaseLapsedAnotherTokenTakesTheInstance) {
  (void)send(with_token(reg("sink", 0, "i1", {input("jobs", "tcp://h:1")}), kToken), 0ms);
  auto r = send(with_token(reg("sink", 0, "i1", {input("jobs", "tcp://h:7")}), kForged), 3300ms);
  ASSERT_TRUE(std::holds_alternative<AckReply>(r));
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].reason, ChangeReason::kReplaced);
  EXPECT_EQ(changes[1].entry.reg.endpoint, "tcp://h:7");
  // Now the new token is the one that counts.
  expect_token_refusal(send(HeartbeatRequest{"sink", 0, "i1", {}, "", kToken}, 3400ms),
                       "the old token");
  EXPECT_TRUE(std::holds_alternative<AckReply>(
      send(HeartbeatRequest{"sink", 0, "i1", {}, "", kForged}, 3400ms)));
}

TEST_F(DirectoryLogic, TheTokenIsNeverSentBack) {
  auto r = with_token(reg("sink", 0, "i1", {input("jobs", "tcp://h:1")}), kToken);
  r.topology = "shop";
  (void)send(r, 0ms);
  std::vector<std::string> sent;
  for (const auto& c : changes)
    sent.push_back(encode(c));
  std::vector<DirectoryUpdate> none;
  sent.push_back(encode(DirectoryReply{1, dir.handle(ListRequest{}, t0 + 1ms, none)}));
  sent.push_back(
      encode(DirectoryReply{1, dir.handle(SnapshotRequest{{}, "shop"}, t0 + 1ms, none)}));
  r.token = kForged;
  sent.push_back(encode(DirectoryReply{1, send(r, 2ms)}));
  sent.push_back(
      encode(DirectoryReply{1, send(HeartbeatRequest{"sink", 0, "i1", {}, "shop"}, 2ms)}));
  sent.push_back(encode(DirectoryReply{1, send(UnregisterRequest{"sink", 0, "i1", "shop"}, 2ms)}));
  sent.push_back(
      encode(DirectoryReply{1, send(UnregisterRequest{"sink", 0, "i1", "shop", kToken}, 3ms)}));
  for (const auto& c : changes)
    sent.push_back(encode(c));
  ASSERT_EQ(sent.size(), 8u);
  for (const auto& bytes : sent)
    EXPECT_EQ(bytes.find(kToken), std::string::npos);
}

// What the HTTP listener sees: each instance with the heartbeat before its latest, for rates,
// ordered by scope, node and instance (not by key, where "w.10" sorts before "w.2").
TEST_F(DirectoryLogic, MonitoredInstancesKeepThePreviousHeartbeat) {
  for (std::uint32_t i : {10u, 2u})
    ASSERT_TRUE(std::holds_alternative<AckReply>(send(reg("w", i, "a", {}), 0ms)));
  HeartbeatRequest hb{"w", 2, "a", {}};
  hb.counters.channels["c"].received = 100;
  ASSERT_TRUE(std::holds_alternative<AckReply>(send(hb, 1000ms)));
  auto m = dir.monitored(t0 + 1100ms);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].info.instance, 2u);
  EXPECT_EQ(m[1].info.instance, 10u);
  EXPECT_EQ(m[0].interval_ms, 0u) << "one heartbeat: no rate yet";
  EXPECT_EQ(m[0].info.age_ms, 100u);

  hb.counters.channels["c"].received = 600;
  ASSERT_TRUE(std::holds_alternative<AckReply>(send(hb, 1500ms)));
  m = dir.monitored(t0 + 1500ms);
  EXPECT_EQ(m[0].interval_ms, 500u);
  EXPECT_EQ(m[0].previous.channels.at("c").received, 100u);
  EXPECT_EQ(m[0].info.counters.channels.at("c").received, 600u);
  EXPECT_DOUBLE_EQ(rate_per_second(100, 600, m[0].interval_ms), 1000.0);

  EXPECT_EQ(dir.leases_expired(), 0u);
  std::vector<DirectoryUpdate> gone;
  dir.expire(t0 + 3500ms, gone);  // w.10 has been silent since 0 ms, w.2 since 1500 ms
  EXPECT_EQ(dir.leases_expired(), 1u);
  EXPECT_EQ(dir.monitored(t0 + 3500ms).size(), 1u);
}

// The snapshot of a few channels reads an index by channel, and expiry one by lease deadline:
// both must follow every way an instance's registrations and leases change.
class DirectoryIndex : public DirectoryLogic {
 protected:
  std::set<std::string> endpoints_of(std::vector<std::string> channels, Clock::duration at,
                                     std::string topology = {}) {
    std::vector<DirectoryUpdate> none;
    std::set<std::string> out;
    const auto r =
        dir.handle(SnapshotRequest{std::move(channels), std::move(topology)}, t0 + at, none);
    for (const auto& e : std::get<EntriesReply>(r).entries)
      out.insert(e.reg.endpoint);
    return out;
  }
  using Endpoints = std::set<std::string>;
};

TEST_F(DirectoryIndex, ChosenChannelsFollowEveryChangeOfRegistrations) {
  send(reg("a", 0, "i1", {input("x", "tcp://h:1"), input("y", "tcp://h:2")}), 0ms);
  send(reg("b", 0, "i2", {input("x", "tcp://h:3")}), 0ms);
  auto scoped = reg("a", 0, "i9", {input("x", "tcp://other:1")});
  scoped.topology = "other";
  send(scoped, 0ms);
  EXPECT_EQ(endpoints_of({"x"}, 1ms), (Endpoints{"tcp://h:1", "tcp://h:3"}));
  EXPECT_EQ(endpoints_of({"x"}, 1ms, "other"), (Endpoints{"tcp://other:1"}));
  EXPECT_EQ(endpoints_of({"x", "y", "x"}, 1ms), (Endpoints{"tcp://h:1", "tcp://h:2", "tcp://h:3"}));

  send(reg("a", 0, "i1", {input("x", "tcp://h:1"), input("z", "tcp://h:4")}), 10ms);
  EXPECT_TRUE(endpoints_of({"y"}, 11ms).empty()) << "a left y";
  EXPECT_EQ(endpoints_of({"z"}, 11ms), (Endpoints{"tcp://h:4"}));

  send(UnregisterRequest{"b", 0, "i2"}, 20ms);
  EXPECT_EQ(endpoints_of({"x"}, 21ms), (Endpoints{"tcp://h:1"}));

  // a's lease lapses (3 s after its last registration) and a new incarnation takes its name.
  send(reg("a", 0, "i3", {input("y", "tcp://h:5")}), 3100ms);
  EXPECT_TRUE(endpoints_of({"x"}, 3101ms).empty()) << "the old incarnation's ports went";
  EXPECT_EQ(endpoints_of({"y"}, 3101ms), (Endpoints{"tcp://h:5"}));

  changes.clear();
  dir.expire(t0 + 6200ms, changes);
  EXPECT_TRUE(endpoints_of({"y"}, 6200ms).empty());
  EXPECT_TRUE(endpoints_of({"x"}, 6200ms, "other").empty());
  EXPECT_EQ(dir.instance_count(), 0u);
}

TEST_F(DirectoryIndex, LeasesRunOutInDeadlineOrderWhateverTheKeys) {
  // Keys sort "n.0" < "n.1" < ... while deadlines run the other way round.
  for (std::uint32_t i = 0; i < 5; ++i)
    send(reg("n", i, "i" + std::to_string(i), {input("c", "tcp://h:" + std::to_string(i))}),
         std::chrono::milliseconds(100 * (5 - i)));
  EXPECT_EQ(dir.next_expiry(), t0 + 3100ms) << "n.4, registered first";
  send(HeartbeatRequest{"n", 4, "i4", {}}, 1000ms);
  EXPECT_EQ(dir.next_expiry(), t0 + 3200ms) << "n.3 now; n.4 renewed to 4000";
  changes.clear();
  dir.expire(t0 + 3350ms, changes);
  EXPECT_EQ(dir.instance_count(), 3u) << "n.3 (3200) and n.2 (3300) ran out";
  EXPECT_EQ(dir.next_expiry(), t0 + 3400ms);
  EXPECT_EQ(dir.leases_expired(), 2u);

  // A stalled directory gives every lease the stalled time back, in the same order.
  dir.extend_leases(500ms, t0 + 3390ms);
  EXPECT_EQ(dir.next_expiry(), t0 + 3900ms) << "n.1 (registered at 400 ms, +500 ms)";
  changes.clear();
  dir.expire(t0 + 3850ms, changes);
  EXPECT_EQ(dir.instance_count(), 3u);
  dir.expire(t0 + 3950ms, changes);
  EXPECT_EQ(dir.instance_count(), 2u);
  dir.expire(t0 + 4600ms, changes);
  EXPECT_EQ(dir.instance_count(), 0u) << "n.0 at 4000 and n.4 at 4500";
  EXPECT_EQ(dir.next_expiry(), Clock::time_point::max());
}

TEST_F(DirectoryIndex, PushedChangesGoToTheConnectionOfEachInstanceThatAskedForThem) {
  auto pushing = reg("a", 0, "i1", {input("x", "tcp://h:1")});
  pushing.push = true;
  std::vector<DirectoryUpdate> none;
  auto hello = dir.handle(HelloRequest{true}, t0, none, "r1");
  EXPECT_TRUE(std::get<HelloReply>(hello).push);
  EXPECT_FALSE(std::get<HelloReply>(dir.handle(HelloRequest{}, t0, none, "r1")).push);
  dir.handle(pushing, t0, none, "r1");
  dir.handle(reg("b", 0, "i2", {input("x", "tcp://h:2")}), t0, none, "r2");  // watches the PUB
  std::vector<std::string_view> routes;
  dir.push_routes("", "x", routes);
  EXPECT_EQ(routes, (std::vector<std::string_view>{"r1"}));
  dir.push_routes("", "y", routes);
  EXPECT_TRUE(routes.empty());

  // Its heartbeats come on a new connection (it connected again): the changes follow.
  dir.handle(HeartbeatRequest{"a", 0, "i1", {}}, t0 + 500ms, none, "r3");
  dir.push_routes(routes);
  EXPECT_EQ(routes, (std::vector<std::string_view>{"r3"})) << "the ticks too";
  // Registered again without push: none; unregistered: none.
  dir.handle(reg("a", 0, "i1", {input("x", "tcp://h:1")}), t0 + 600ms, none, "r3");
  dir.push_routes("", "x", routes);
  EXPECT_TRUE(routes.empty());
  dir.handle(pushing, t0 + 700ms, none, "r4");
  dir.handle(UnregisterRequest{"a", 0, "i1"}, t0 + 800ms, none, "r4");
  dir.push_routes(routes);
  EXPECT_TRUE(routes.empty());
}

}  // namespace
}  // namespace brook
