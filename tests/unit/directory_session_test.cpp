// A node's directory session against a scripted directory (a real ROUTER and XPUB on loopback):
// it subscribes to its own channels only, and takes a new snapshot when an update of one of them
// is missing, whether the next update's `prev` or the channel's mark shows it.
#include "runtime/directory_session.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "directory/directory_protocol.hpp"

namespace brook::detail {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Recorder : DirectorySession::Listener {
  std::set<std::string> live;  // "node.instance/channel"
  int added = 0;
  void entry_added(const DirectoryEntry& e) override {
    live.insert(e.instance_name() + "/" + e.reg.channel);
    ++added;
  }
  void entry_removed(const DirectoryEntry& e) override {
    live.erase(e.instance_name() + "/" + e.reg.channel);
  }
  void registered(const std::string&) override { ++registrations; }
  int registrations = 0;
  NodeCounters heartbeat_counters() override { return {}; }
  void name_taken(const std::string&) override {}
};

DirectoryEntry entry(const std::string& node, const std::string& channel) {
  return DirectoryEntry{
      node, 0, "0123456789abcdef",
      Registration{channel, Direction::kIn, Pattern::kPipeline, "tcp://127.0.0.1:9", "in", false}};
}

class ScriptedDirectory : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.set(zmq::sockopt::linger, 0);
    pub_.set(zmq::sockopt::linger, 0);
    router_.bind("tcp://127.0.0.1:*");
    pub_.bind("tcp://127.0.0.1:*");
    // The session writes c1 and reads c2; "c1:evil" shares c1's topic prefix.
    std::vector<Registration> regs{
        Registration{"c1", Direction::kOut, Pattern::kPipeline, "", "out", false},
        Registration{"c2", Direction::kIn, Pattern::kPipeline, "tcp://127.0.0.1:7", "in", false}};
    session_ = std::make_unique<DirectorySession>(
        ctx_, security_, router_.get(zmq::sockopt::last_endpoint),
        InstanceIdentity{"me", 0, "fedcba9876543210", "host", 1}, regs, 3000ms, 1000ms, recorder_);
  }

  // Runs the session's loop for up to `timeout`, answering its requests with `answer`, until
  // `done` holds.
  bool run(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = Clock::now() + timeout;
    while (!done()) {
      const auto now = Clock::now();
      if (now >= deadline) return false;
      if (now >= session_->next_wakeup()) session_->tick(now);
      std::vector<zmq::pollitem_t> items{{session_->request_socket(), 0, ZMQ_POLLIN, 0},
                                         {session_->watch_socket(), 0, ZMQ_POLLIN, 0},
                                         {router_.handle(), 0, ZMQ_POLLIN, 0},
                                         {pub_.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 10ms);
      if (items[0].revents & ZMQ_POLLIN) session_->on_request_readable();
      if (items[1].revents & ZMQ_POLLIN) session_->on_watch_readable();
      if (items[2].revents & ZMQ_POLLIN) serve();
      if (items[3].revents & ZMQ_POLLIN) {
        zmq::message_t m;
        while (pub_.recv(m, zmq::recv_flags::dontwait))
          subscriptions_.insert(m.to_string().substr(1));
      }
    }
    return true;
  }

  void serve() {
    zmq::message_t id, frame;
    if (!router_.recv(id, zmq::recv_flags::dontwait)) return;
    (void)router_.recv(frame, zmq::recv_flags::none);
    peers_.insert(id.to_string());
    last_peer_ = id.to_string();
    ++requests_;
    DirectoryRequest req;
    ASSERT_TRUE(decode(std::span(static_cast<const std::byte*>(frame.data()), frame.size()), req));
    std::visit(
        [&](const auto& r) {
          if constexpr (requires { r.token; }) tokens_[std::string(op_name(req.body))] = r.token;
        },
        req.body);
    if (oversized_replies_ > 0) {
      --oversized_replies_;
      router_.send(id, zmq::send_flags::sndmore);
      router_.send(zmq::buffer(std::string(kMaxDirectoryFrame + 1, 'x')));
      return;
    }
    DirectoryReplyBody body = AckReply{state()};
    if (const auto* h = std::get_if<HelloRequest>(&req.body)) {
      body = HelloReply{state(), pub_.get(zmq::sockopt::last_endpoint), 3000, 1000,
                        pushes_ && h->push};
    } else if (const auto* r = std::get_if<RegisterRequest>(&req.body)) {
      registered_with_push_ = r->push;
    } else if (const auto* s = std::get_if<SnapshotRequest>(&req.body)) {
      snapshot_channels_ = s->channels;
      ++snapshots_;
      body = snapshot_;
    }
    const std::string bytes = encode(DirectoryReply{req.id, body});
    router_.send(id, zmq::send_flags::sndmore);
    router_.send(zmq::buffer(bytes));
  }

  DirectoryState state() const { return DirectoryState{"epoch-1", seq_, 10000, true}; }

  void publish(const std::string& topic, const std::string& bytes) {
    pub_.send(zmq::buffer(topic), zmq::send_flags::sndmore);
    pub_.send(zmq::buffer(bytes));
  }
  // As a pushing directory does: on the request connection, after the session's routing id.
  void push(const std::string& topic, const std::string& bytes) {
    router_.send(zmq::buffer(last_peer_), zmq::send_flags::sndmore);
    router_.send(zmq::buffer(topic), zmq::send_flags::sndmore);
    router_.send(zmq::buffer(bytes));
  }
  void update(std::uint64_t seq, std::uint64_t prev, const DirectoryEntry& e,
              ChangeOp op = ChangeOp::kAdd) {
    seq_ = std::max(seq_, seq);
    publish(update_topic(e.topology, e.reg.channel),
            encode(DirectoryUpdate{"epoch-1", seq, prev, op, ChangeReason::kRegistered, e}));
  }

  zmq::context_t ctx_;
  zmq::socket_t router_{ctx_, zmq::socket_type::router};
  zmq::socket_t pub_{ctx_, zmq::socket_type::xpub};
  Security security_;
  Recorder recorder_;
  std::unique_ptr<DirectorySession> session_;
  std::uint64_t seq_ = 0;
  EntriesReply snapshot_{state(), {}, {}};
  std::vector<std::string> snapshot_channels_;
  int snapshots_ = 0;
  int oversized_replies_ = 0;
  std::set<std::string> peers_;  // routing ids: one per connection the session made
  int requests_ = 0;
  std::set<std::string> subscriptions_;
  std::map<std::string, std::string> tokens_;  // by op: the token of the last such request
  bool pushes_ = false;                        // answers a hello that asks for push with push
  bool registered_with_push_ = false;
  std::string last_peer_;
};

TEST_F(ScriptedDirectory, TakesItsChangesOnTheRequestConnectionWhenTheDirectoryPushes) {
  pushes_ = true;
  ASSERT_TRUE(run([&] { return recorder_.registrations > 0 && session_->synced(); }));
  EXPECT_TRUE(registered_with_push_);
  const auto pushed_update = [&](std::uint64_t seq, std::uint64_t prev, const DirectoryEntry& e) {
    seq_ = std::max(seq_, seq);
    push(update_topic(e.topology, e.reg.channel),
         encode(
             DirectoryUpdate{"epoch-1", seq, prev, ChangeOp::kAdd, ChangeReason::kRegistered, e}));
  };
  pushed_update(3, 0, entry("x", "c1"));
  ASSERT_TRUE(run([&] { return recorder_.live.count("x.0/c1") == 1; }));

  // A pushed mark shows a lost update of c2, as on the PUB: snapshot.
  seq_ = 8;
  snapshot_ = EntriesReply{state(), {entry("x", "c1"), entry("z", "c2")}, {{"c1", 3}, {"c2", 8}}};
  push(mark_topic("", "c2"), encode(DirectoryMark{"epoch-1", "c2", 8}));
  push(std::string(kTickKind), encode(DirectoryTick{state()}));
  ASSERT_TRUE(run([&] { return snapshots_ == 2 && recorder_.live.count("z.0/c2") == 1; }));
  pushed_update(9, 3, entry("v", "c1"));
  ASSERT_TRUE(run([&] { return recorder_.live.count("v.0/c1") == 1; }));
  EXPECT_EQ(snapshots_, 2);
  EXPECT_TRUE(subscriptions_.empty()) << "the session never connected to the PUB";
  EXPECT_EQ(peers_.size(), 1u) << "one connection to the directory";
}

// The process's token goes with every request that names its instance, so only this process can
// re-register, renew or remove it (docs/directory.md#tokens).
TEST_F(ScriptedDirectory, SendsTheProcessTokenWithEveryRequestForItsInstance) {
  const std::string token = process_token();
  EXPECT_EQ(token.size(), 32u);
  EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos) << token;
  EXPECT_EQ(process_token(), token) << "one token per process";
  session_ = std::make_unique<DirectorySession>(
      ctx_, security_, router_.get(zmq::sockopt::last_endpoint),
      InstanceIdentity{"me", 0, "fedcba9876543210", "host", 1, "", token},
      std::vector<Registration>{}, 3000ms, 200ms, recorder_);
  ASSERT_TRUE(run([&] { return tokens_.count("heartbeat") > 0; }));
  session_->begin_unregister();
  ASSERT_TRUE(run([&] { return session_->unregister_done(); }));
  EXPECT_EQ(tokens_, (std::map<std::string, std::string>{
                         {"register", token}, {"heartbeat", token}, {"unregister", token}}));
}

TEST_F(ScriptedDirectory, SubscribesToItsChannelsAndRecoversLostUpdates) {
  // Start: hello, register, a snapshot of its two channels.
  ASSERT_TRUE(run([&] { return session_->synced() && subscriptions_.size() == 5; }));
  EXPECT_EQ(subscriptions_,
            (std::set<std::string>{"tick", "update:c1:", "mark:c1:", "update:c2:", "mark:c2:"}));
  EXPECT_EQ(snapshot_channels_, (std::vector<std::string>{"c1", "c2"}));

  // In order: applied.
  update(3, 0, entry("x", "c1"));
  ASSERT_TRUE(run([&] { return recorder_.live.count("x.0/c1") == 1; }));

  // y's update names 5 as c1's previous one, which never came: snapshot, which has both.
  snapshot_ =
      EntriesReply{state(), {entry("x", "c1"), entry("y", "c1"), entry("w", "c1")}, {{"c1", 6}}};
  snapshot_.state.seq = 6;
  update(6, 5, entry("y", "c1"));
  ASSERT_TRUE(run([&] { return snapshots_ == 2 && recorder_.live.size() == 3; }));

  // c2's mark says it is at seq 8, never seen here: snapshot again; z appears.
  seq_ = 8;
  snapshot_ = EntriesReply{state(), {entry("x", "c1"), entry("z", "c2")}, {{"c1", 6}, {"c2", 8}}};
  publish(mark_topic("", "c2"), encode(DirectoryMark{"epoch-1", "c2", 8}));
  ASSERT_TRUE(run([&] { return snapshots_ == 3 && recorder_.live.count("z.0/c2") == 1; }));
  EXPECT_EQ(recorder_.live, (std::set<std::string>{"x.0/c1", "z.0/c2"}))
      << "a settled snapshot also drops what it no longer lists";

  // An update of a channel that merely starts like c1 reaches the SUB but is not ours; then
  // c1's next update in order is applied without another snapshot.
  update(9, 0, entry("evil", "c1:evil"));
  update(10, 6, entry("v", "c1"));
  ASSERT_TRUE(run([&] { return recorder_.live.count("v.0/c1") == 1; }));
  EXPECT_EQ(recorder_.live.count("evil.0/c1:evil"), 0u);
  EXPECT_EQ(snapshots_, 3);

  // An old update (seq at or below what c1 has reached) and a mark that shows nothing new change
  // nothing: the next update, which arrives after them on the same pipe, is applied directly.
  update(4, 3, entry("stale", "c1"));
  publish(mark_topic("", "c1"), encode(DirectoryMark{"epoch-1", "c1", 10}));
  publish(std::string(kTickKind), encode(DirectoryTick{state()}));
  update(11, 10, entry("u", "c1"));
  ASSERT_TRUE(run([&] { return recorder_.live.count("u.0/c1") == 1; }));
  EXPECT_EQ(recorder_.live.count("stale.0/c1"), 0u);
  EXPECT_EQ(snapshots_, 3);
}

TEST_F(ScriptedDirectory, ConnectsAgainAfterAnOversizedReply) {
  // libzmq drops a connection that delivers a frame over the DEALER's limit and never connects it
  // again; the session notices the silence and makes a new connection.
  oversized_replies_ = 1;
  ASSERT_TRUE(run([&] { return recorder_.registrations > 0 && session_->synced(); }, 15s))
      << "the session never registered after the oversized reply";
  EXPECT_EQ(oversized_replies_, 0);
}

TEST_F(ScriptedDirectory, AnIdleSessionWithALongHeartbeatKeepsItsConnection) {
  // Heartbeats 6 s apart, all answered: quiet, not silent, so no new connection between them.
  session_.reset();
  session_ = std::make_unique<DirectorySession>(
      ctx_, security_, router_.get(zmq::sockopt::last_endpoint),
      InstanceIdentity{"me", 0, "fedcba9876543210", "host", 1},
      std::vector<Registration>{
          Registration{"c1", Direction::kOut, Pattern::kPipeline, "", "out", false}},
      18000ms, 6000ms, recorder_);
  ASSERT_TRUE(run([&] { return recorder_.registrations > 0 && session_->synced(); }));
  const int before = requests_;
  ASSERT_TRUE(run([&] { return requests_ > before; }, 8s)) << "no heartbeat within 8 s";
  EXPECT_EQ(peers_.size(), 1u) << "the session reconnected while the directory answered";
}

}  // namespace
}  // namespace brook::detail
