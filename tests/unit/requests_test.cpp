// Request/reply's two halves over real sockets on 127.0.0.1: RequestServer (a ROUTER input that
// answers on the asking connection) and RequestClient (picks a replica, correlates replies by
// seq, reports timeouts and lost replicas, re-sends only idempotent requests).
#include <gtest/gtest.h>

#include <brook/error.hpp>
#include <chrono>
#include <memory>
#include <msgpack.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "runtime/request_client.hpp"
#include "runtime/request_server.hpp"
#include "runtime/request_wire.hpp"

namespace brook::detail {
namespace {

using namespace std::chrono_literals;
const ListenAddress kLoopback{"127.0.0.1", "127.0.0.1"};
using Clock = std::chrono::steady_clock;

ChannelSpec channel(bool idempotent = false, std::size_t max_pending = 100) {
  ChannelSpec c;
  c.name = "lookup";
  c.pattern = Pattern::kRequest;
  c.idempotent = idempotent;
  c.max_pending = max_pending;
  return c;
}

PortSpec port(const std::string& name) {
  PortSpec p;
  p.port = name;
  p.channel = "lookup";
  return p;
}

// A request envelope frame: seq `seq` from "asker.0@x", payload the msgpack string `text`.
zmq::message_t request(std::uint64_t seq, const std::string& text) {
  EnvelopeEncoder enc;
  OutgoingEnvelope env;
  env.producer = "asker.0@x";
  env.seq = seq;
  env.channel = "lookup";
  env.type = "test.Query";
  const auto frame = enc.encode(env, text);
  return zmq::message_t(frame.data(), frame.size());
}

std::string payload_string(const EnvelopeView& env) {
  const auto h =
      msgpack::unpack(reinterpret_cast<const char*>(env.payload.data()), env.payload.size());
  return h.get().as<std::string>();
}

// One serving replica: a RequestServer whose handler answers "<name>:<request>" at once, or
// keeps the slot when `hold` (to answer later, or never).
struct Server {
  Server(zmq::context_t& ctx, const ChannelSpec& ch, const Security& sec, std::string name)
      : server(ctx, port("in"), ch, kLoopback, name + "@p", 0ms, counters, sec), name(name) {
    entry.node = "lookup-svc";
    entry.instance = static_cast<std::uint32_t>(name.back() - '0');
    entry.incarnation = name;
    entry.reg = server.registration();
    server.handler() = [this](const EnvelopeView& env, std::shared_ptr<ReplySlot> slot) {
      const std::string text = payload_string(env);
      ++handled;
      if (text == "throw") throw std::runtime_error("no such item");
      if (hold) {
        held.push_back(slot);
        return;
      }
      msgpack::sbuffer b;
      msgpack::pack(b, this->name + ":" + text);
      slot->reply("test.Answer", std::span<const std::byte>(
                                     reinterpret_cast<const std::byte*>(b.data()), b.size()));
    };
  }
  void poll() {
    zmq::pollitem_t item{server.socket().handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, 0ms) > 0) server.on_readable();
  }
  ChannelCounters counters;
  RequestServer server;
  std::string name;
  DirectoryEntry entry;
  bool hold = false;
  int handled = 0;
  std::vector<std::shared_ptr<ReplySlot>> held;
};

struct Outcome {
  bool done = false;
  std::string value;
  std::string error;
};

RequestClient::DoneFn record(Outcome& o) {
  return [&o](const EnvelopeView* reply, std::string_view error) {
    EXPECT_FALSE(o.done) << "completed twice";
    o.done = true;
    if (reply != nullptr) {
      o.value = payload_string(*reply);
    } else {
      o.error = std::string(error);
    }
  };
}

class RequestTest : public ::testing::Test {
 protected:
  // Serves the client and the servers until `done()` (3 s at most).
  template <class Done>
  bool pump(RequestClient& c, std::vector<Server*> servers, Done done) {
    const auto deadline = Clock::now() + 3s;
    while (!done() && Clock::now() < deadline) {
      std::vector<zmq::pollitem_t> items{{c.socket().handle(), 0, ZMQ_POLLIN, 0},
                                         {c.monitor_socket(), 0, ZMQ_POLLIN, 0}};
      for (Server* s : servers)
        items.push_back({s->server.socket().handle(), 0, ZMQ_POLLIN, 0});
      (void)zmq::poll(items.data(), items.size(), 10ms);
      c.on_readable();
      if (items[1].revents != 0) c.on_monitor_event();
      for (Server* s : servers)
        s->poll();
      if (c.next_wakeup() <= Clock::now()) c.tick(Clock::now());
      c.run_completions();
    }
    return done();
  }
  bool connect(RequestClient& c, std::vector<Server*> servers) {
    for (Server* s : servers)
      c.add_replica(s->entry);
    return pump(c, servers, [&] { return c.connected_replicas() == servers.size(); });
  }

  zmq::context_t ctx{1};
  Security security;
  ChannelCounters counters;
};

TEST_F(RequestTest, AReplyReachesItsRequestByReplyTo) {
  const ChannelSpec ch = channel();
  Server s0(ctx, ch, security, "s0");
  RequestClient c(ctx, ch, "lookup-svc", 0ms, counters, security);
  ASSERT_TRUE(connect(c, {&s0}));

  Outcome a, b;
  c.send(1, request(1, "apple"), Clock::now() + 2s, record(a));
  c.send(2, request(2, "pear"), Clock::now() + 2s, record(b));
  EXPECT_EQ(c.outstanding(), 2u);
  ASSERT_TRUE(pump(c, {&s0}, [&] { return a.done && b.done; }));
  EXPECT_EQ(a.value, "s0:apple");
  EXPECT_EQ(b.value, "s0:pear");
  EXPECT_EQ(c.outstanding(), 0u);
  EXPECT_EQ(counters.received, 2u);
  EXPECT_EQ(s0.counters.received, 2u);
  EXPECT_EQ(s0.counters.emitted, 2u);
}

TEST_F(RequestTest, RequestsAreSharedAmongReplicasInTurn) {
  const ChannelSpec ch = channel();
  Server s0(ctx, ch, security, "s0"), s1(ctx, ch, security, "s1");
  RequestClient c(ctx, ch, "lookup-svc", 0ms, counters, security);
  ASSERT_TRUE(connect(c, {&s0, &s1}));
  // One at a time: every replica is at 0 outstanding each time, so ties must rotate.
  for (std::uint64_t seq = 1; seq <= 6; ++seq) {
    Outcome o;
    c.send(seq, request(seq, "x"), Clock::now() + 2s, record(o));
    ASSERT_TRUE(pump(c, {&s0, &s1}, [&] { return o.done; }));
  }
  EXPECT_EQ(s0.handled, 3);
  EXPECT_EQ(s1.handled, 3);
}

TEST_F(RequestTest, TheFewestOutstandingReplicaGetsTheNextRequest) {
  const ChannelSpec ch = channel();
  Server s0(ctx, ch, security, "s0"), s1(ctx, ch, security, "s1");
  s0.hold = true;
  s1.hold = true;
  RequestClient c(ctx, ch, "lookup-svc", 0ms, counters, security);
  ASSERT_TRUE(connect(c, {&s0, &s1}));
  std::vector<Outcome> o(4);
  for (std::uint64_t seq = 1; seq <= 4; ++seq)
    c.send(seq, request(seq, "x"), Clock::now() + 2s, record(o[seq - 1]));
  ASSERT_TRUE(pump(c, {&s0, &s1}, [&] { return s0.handled + s1.handled == 4; }));
  EXPECT_EQ(s0.handled, 2);
  EXPECT_EQ(s1.handled, 2);
}

TEST_F(RequestTest, AHandlerMayReplyLaterAndASecondReplyIsIgnored) {
  const ChannelSpec ch = channel();
  Server s0(ctx, ch, security, "s0");
  s0.hold = true;
  RequestClient c(ctx, ch, "lookup-svc", 0ms, counters, security);
  ASSERT_TRUE(connect(c, {&s0}));
  Outcome o;
  c.send(7, request(7, "later"), Clock::now() + 2s, record(o));
  ASSERT_TRUE(pump(c, {&s0}, [&] { return s0.held.size() == 1; }));
  EXPECT_FALSE(o.done);
  s0.held[0]->fail("out of stock");
  EXPECT_TRUE(s0.held[0]->replied());
  s0.held[0]->fail("again");  // ignored
  ASSERT_TRUE(pump(c, {&s0}, [&] { return o.done; }));
  EXPECT_EQ(o.error, "replica lookup-svc.0@s0 of 'lookup-svc' failed the request: out of stock");
  EXPECT_EQ(s0.counters.emitted, 1u);
}

TEST_F(RequestTest, AHandlerThatThrowsFailsTheRequestWithItsText) {
  const ChannelSpec ch = channel();
  Server s0(ctx, ch, security, "s0");
  RequestClient c(ctx, ch, "lookup-svc", 0ms, counters, security);
  ASSERT_TRUE(connect(c, {&s0}));
  Outcome o;
  c.send(1, request(1, "throw"), Clock::now() + 2s, record(o));
  ASSERT_TRUE(pump(c, {&s0}, [&] { return o.done; }));
  EXPECT_NE(o.error.find("failed the request: no such item"), std::string::npos) << o.error;
  EXPECT_EQ(s0.counters.handler_errors, 1u);
}

TEST_F(RequestTest, ATimeoutFailsTheRequestNamingTheReplicaAndALateReplyIsDropped) {
  const ChannelSpec ch = channel();
  Server s0(ctx, ch, security, "s0");
  s0.hold = true;
  RequestClient c(ctx, ch, "lookup-svc", 0ms, counters, security);
  ASSERT_TRUE(connect(c, {&s0}));
  Outcome o;
  c.send(1, request(1, "slow"), Clock::now() + 100ms, record(o));
  ASSERT_TRUE(pump(c, {&s0}, [&] { return o.done; }));
  EXPECT_EQ(o.error,
            "timed out waiting for a reply from replica lookup-svc.0@s0 of 'lookup-svc' on "
            "channel 'lookup'");
  EXPECT_EQ(c.outstanding(), 0u);
  s0.held.at(0)->fail("too late");
  ASSERT_TRUE(pump(c, {&s0}, [&] { return counters.duplicates == 1; }));
}

TEST_F(RequestTest, WithNoReplicaARequestWaitsForOneUntilItsDeadline) {
  const ChannelSpec ch = channel();
  RequestClient c(ctx, ch, "lookup-svc", 0ms, counters, security);
  Outcome o;
  c.send(1, request(1, "x"), Clock::now() + 50ms, record(o));
  ASSERT_TRUE(pump(c, {}, [&] { return o.done; }));
  EXPECT_EQ(o.error,
            "no replica of 'lookup-svc' connected within the timeout (0 known) on channel "
            "'lookup'");

  Server s0(ctx, ch, security, "s0");
  Outcome p;
  c.send(2, request(2, "y"), Clock::now() + 2s, record(p));
  c.add_replica(s0.entry);  // connects after the request was made
  ASSERT_TRUE(pump(c, {&s0}, [&] { return p.done; }));
  EXPECT_EQ(p.value, "s0:y");
}

TEST_F(RequestTest, ALostReplicaFailsItsRequestsUnlessIdempotent) {
  const ChannelSpec ch = channel();
  Server s0(ctx, ch, security, "s0");
  s0.hold = true;
  RequestClient c(ctx, ch, "lookup-svc", 0ms, counters, security);
  ASSERT_TRUE(connect(c, {&s0}));
  Outcome o;
  c.send(1, request(1, "x"), Clock::now() + 2s, record(o));
  ASSERT_TRUE(pump(c, {&s0}, [&] { return s0.handled == 1; }));
  c.remove_replica(s0.entry);
  ASSERT_TRUE(pump(c, {&s0}, [&] { return o.done; }));
  EXPECT_EQ(o.error,
            "replica lookup-svc.0@s0 of 'lookup-svc' left the directory before replying; the "
            "request is not re-sent (channel 'lookup' is not idempotent)");
}

TEST_F(RequestTest, AnIdempotentRequestGoesToAnotherReplicaWhenItsOwnDies) {
  const ChannelSpec ch = channel(true);
  std::unique_ptr<Server> s[2] = {std::make_unique<Server>(ctx, ch, security, "s0"),
                                  std::make_unique<Server>(ctx, ch, security, "s1")};
  s[0]->hold = true;
  s[1]->hold = true;
  RequestClient c(ctx, ch, "lookup-svc", 0ms, counters, security);
  ASSERT_TRUE(connect(c, {s[0].get(), s[1].get()}));
  Outcome o;
  c.send(1, request(1, "x"), Clock::now() + 3s, record(o));
  ASSERT_TRUE(
      pump(c, {s[0].get(), s[1].get()}, [&] { return s[0]->handled + s[1]->handled == 1; }));
  const int dying = s[0]->handled == 1 ? 0 : 1;
  Server& survivor = *s[1 - dying];
  survivor.hold = false;
  s[dying].reset();  // the replica dies: its socket closes, the client sees the disconnect
  ASSERT_TRUE(pump(c, {&survivor}, [&] { return o.done; }));
  EXPECT_EQ(o.value, survivor.name + ":x");
  EXPECT_EQ(counters.redelivered, 1u);
}

TEST_F(RequestTest, BeyondMaxPendingARequestIsRefused) {
  const ChannelSpec ch = channel(false, 2);
  RequestClient c(ctx, ch, "lookup-svc", 0ms, counters, security);
  Outcome a, b, d;
  c.send(1, request(1, "a"), Clock::now() + 2s, record(a));
  c.send(2, request(2, "b"), Clock::now() + 2s, record(b));
  EXPECT_THROW(c.send(3, request(3, "c"), Clock::now() + 2s, record(d)), BackpressureError);
  EXPECT_EQ(counters.backpressure, 1u);
}

TEST_F(RequestTest, AReplyToACallerThatIsGoneIsCountedAsDropped) {
  const ChannelSpec ch = channel();
  Server s0(ctx, ch, security, "s0");
  s0.hold = true;
  auto c = std::make_unique<RequestClient>(ctx, ch, "lookup-svc", 0ms, counters, security);
  ASSERT_TRUE(connect(*c, {&s0}));
  Outcome o;
  c->send(1, request(1, "x"), Clock::now() + 2s, record(o));
  ASSERT_TRUE(pump(*c, {&s0}, [&] { return s0.handled == 1; }));
  // Waits for the server to see the caller's disconnect, then answers.
  ASSERT_EQ(zmq_socket_monitor(s0.server.socket().handle(), "inproc://request-test-mon",
                               ZMQ_EVENT_DISCONNECTED),
            0);
  zmq::socket_t mon(ctx, zmq::socket_type::pair);
  mon.connect("inproc://request-test-mon");
  c.reset();
  zmq::pollitem_t item{mon.handle(), 0, ZMQ_POLLIN, 0};
  ASSERT_EQ(zmq::poll(&item, 1, 2s), 1);
  // The socket drops the connection's routing id a moment after the event: answer until a send
  // fails (a reply sent before that goes to a closed pipe).
  const auto origin = static_cast<ServerReplySlot&>(*s0.held.at(0)).origin();
  const auto deadline = Clock::now() + 2s;
  while (s0.counters.dropped == 0 && Clock::now() < deadline) {
    s0.server.fail(origin, "nobody listens");
    if (s0.counters.dropped == 0) std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(s0.counters.dropped, 1u);
}

TEST_F(RequestTest, ReplyToIsADecimalSeq) {
  EnvelopeEncoder enc;
  OutgoingEnvelope env;
  env.producer = "p";
  env.seq = 1;
  env.channel = "lookup";
  env.type = "t";
  const Header h[1] = {{kReplyToHeader, "42"}};
  env.headers = h;
  const auto frame = enc.encode(env, 0);
  EnvelopeView v;
  ASSERT_TRUE(decode_envelope(frame, Limits{}, v).ok());
  std::uint64_t seq = 0;
  ASSERT_TRUE(parse_reply_to(v, seq));
  EXPECT_EQ(seq, 42u);
}

}  // namespace
}  // namespace brook::detail
