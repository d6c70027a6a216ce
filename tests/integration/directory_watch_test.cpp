// The directory's change feed, seen from a plain SUB like a node in another language would use:
// updates come under their channel's topic, each names the previous update of its channel, and
// marks say how far each recently changed channel has gone.
#include <gtest/gtest.h>

#include <zmq.hpp>

#include "directory/directory_protocol.hpp"
#include "support/cluster.hpp"

namespace brook::test {
namespace {

using namespace std::chrono_literals;

Registration reads(const std::string& channel, int port) {
  return Registration{
      channel, Direction::kIn, Pattern::kPipeline, "tcp://127.0.0.1:" + std::to_string(port),
      "in",    false};
}

struct Feed {
  std::vector<DirectoryUpdate> updates;
  std::vector<DirectoryMark> marks;
  std::vector<DirectoryTick> ticks;
};

// Reads the SUB until `done` holds or `timeout` passes.
bool read_feed(zmq::socket_t& sub, Feed& feed, const std::function<bool()>& done,
               std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, 100ms);
    if ((item.revents & ZMQ_POLLIN) == 0) continue;
    zmq::message_t topic, body;
    if (!sub.recv(topic, zmq::recv_flags::dontwait)) continue;
    EXPECT_TRUE(topic.more());
    (void)sub.recv(body, zmq::recv_flags::none);
    const auto bytes = std::span(static_cast<const std::byte*>(body.data()), body.size());
    if (is_update_topic(topic.to_string_view())) {
      DirectoryUpdate u;
      EXPECT_TRUE(decode(bytes, u));
      EXPECT_EQ(topic.to_string_view(), update_topic(u.entry.topology, u.entry.reg.channel));
      feed.updates.push_back(u);
    } else if (is_mark_topic(topic.to_string_view())) {
      DirectoryMark m;
      EXPECT_TRUE(decode(bytes, m));
      EXPECT_EQ(topic.to_string_view(), mark_topic(m.topology, m.channel));
      feed.marks.push_back(m);
    } else if (topic.to_string_view() == kTickKind) {
      DirectoryTick t;
      EXPECT_TRUE(decode(bytes, t));
      feed.ticks.push_back(t);
    }
  }
  return true;
}

TEST(DirectoryWatch, ASubscriberGetsOnlyItsChannelsEachWithItsOwnChain) {
  Cluster c;
  c.start_directory();
  const auto hello = c.client().hello();

  zmq::context_t ctx;
  zmq::socket_t sub(ctx, zmq::socket_type::sub);
  sub.set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::subscribe, kTickKind);
  sub.set(zmq::sockopt::subscribe, update_topic("", "c1"));
  sub.set(zmq::sockopt::subscribe, mark_topic("", "c1"));
  sub.connect(hello.pub_endpoint);
  Feed feed;
  // A tick proves the subscriptions have reached the directory (ticks come every 500 ms).
  ASSERT_TRUE(read_feed(
      sub, feed, [&] { return !feed.ticks.empty(); }, 5s));

  // c10 and c1x start like c1; c2 is unrelated. Two instances share c1.
  auto ok = [](const DirectoryReplyBody& r) { return std::holds_alternative<AckReply>(r); };
  ASSERT_TRUE(ok(c.client().request(RegisterRequest{
      "a",
      0,
      "00000000000000a0",
      "test",
      1,
      60000,
      {reads("c1", 1001), reads("c10", 1002), reads("c2", 1003), reads("c1x", 1004)}})));
  ASSERT_TRUE(ok(c.client().request(RegisterRequest{
      "b", 0, "00000000000000b0", "test", 2, 60000, {reads("c2", 1005), reads("c1", 1006)}})));
  const auto last = c.client().request(UnregisterRequest{"a", 0, "00000000000000a0"});
  ASSERT_TRUE(ok(last));
  const std::uint64_t final_seq = std::get<AckReply>(last).state.seq;
  ASSERT_EQ(final_seq, 10u) << "6 adds, then a's 4 removes";

  // Everything up to the last change has been published once a tick says so; c1's mark comes
  // with each tick. c1's updates are seqs 1 (a), 6 (b) and 7 (a's removal).
  ASSERT_TRUE(read_feed(
      sub, feed,
      [&] {
        return !feed.ticks.empty() && feed.ticks.back().state.seq >= final_seq &&
               !feed.marks.empty() && feed.marks.back().seq >= 7;
      },
      5s));

  ASSERT_EQ(feed.updates.size(), 3u) << "a's add, b's add and a's remove of c1, nothing else";
  std::uint64_t prev = 0;
  for (const auto& u : feed.updates) {
    EXPECT_EQ(u.entry.reg.channel, "c1");
    EXPECT_EQ(u.prev, prev) << "each update names the previous update of c1 (seq " << u.seq << ")";
    prev = u.seq;
  }
  EXPECT_EQ(feed.updates[2].op, ChangeOp::kRemove);
  for (const auto& m : feed.marks)
    EXPECT_EQ(m.channel, "c1") << "only c1's marks";
  EXPECT_EQ(prev, 7u);
  EXPECT_EQ(feed.marks.back().seq, prev) << "the mark shows how far c1 has gone";

  // A snapshot limited to c1 holds b's entry and c1's last seq: a watcher resumes from there.
  const auto snap = std::get<EntriesReply>(c.client().request(SnapshotRequest{{"c1"}}));
  ASSERT_EQ(snap.entries.size(), 1u);
  EXPECT_EQ(snap.entries[0].node, "b");
  EXPECT_EQ(snap.entries[0].reg.channel, "c1");
  EXPECT_EQ(snap.channel_seq, (std::map<std::string, std::uint64_t>{{"c1", prev}}));
}

}  // namespace
}  // namespace brook::test
