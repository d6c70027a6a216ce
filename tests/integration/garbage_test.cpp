// Hostile bytes at a node's input and at the directory: both count and survive them, and real
// traffic keeps flowing.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <brook/envelope_codec.hpp>
#include <random>
#include <variant>
#include <zmq.hpp>

#include "directory/directory_protocol.hpp"
#include "support/cluster.hpp"

namespace brook::test {
namespace {

// Writes raw bytes to a TCP endpoint "tcp://127.0.0.1:port" without speaking ZMTP.
void raw_tcp(const std::string& endpoint, const std::string& bytes) {
  const auto colon = endpoint.rfind(':');
  const int port = std::stoi(endpoint.substr(colon + 1));
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    [[maybe_unused]] auto n = ::write(fd, bytes.data(), bytes.size());
  }
  ::close(fd);
}

std::string random_bytes(std::mt19937& rng, std::size_t n) {
  std::string s(n, '\0');
  for (auto& ch : s)
    ch = static_cast<char>(rng() & 0xff);
  return s;
}

TEST(Garbage, NodeAndDirectorySurviveAndCountIt) {
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: garbage
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms}
channels:
  work: {pattern: pipeline, max_message_size: 64KiB}
nodes:
  source:
    exec: brook-test-source
    outputs: {out: work}
    params: {count: 3000, rate: 1000}
  sink:
    exec: brook-test-sink
    inputs: {in: work}
    params: {report: "{DIR}/sink-{instance}.txt"}
)");
  auto sink = c.start_node("brook-test-sink", "sink", 0);
  const auto entries = c.client().resolve("work").entries;
  ASSERT_EQ(entries.size(), 1u);
  const std::string input = entries[0].reg.endpoint;
  auto source = c.start_node("brook-test-source", "source", 0);

  std::mt19937 rng(42);
  zmq::context_t ctx;
  // 1. Not ZeroMQ at all.
  for (int i = 0; i < 20; ++i) {
    raw_tcp(input, random_bytes(rng, 1 + rng() % 4000));
    raw_tcp(c.directory_endpoint(), random_bytes(rng, 1 + rng() % 4000));
  }
  // 2. Valid ZeroMQ, invalid brook frames: random bytes, truncated envelopes, multi-part,
  //    oversized (above twice max_message_size: libzmq drops the connection). The channel is
  //    at-least-once, so its input is a ROUTER and a DEALER speaks to it like a producer.
  zmq::socket_t push(ctx, zmq::socket_type::dealer);
  push.set(zmq::sockopt::linger, 1000);
  push.connect(input);
  EnvelopeEncoder enc;
  OutgoingEnvelope env;
  env.producer = "intruder";
  env.seq = 1;
  env.channel = "work";
  env.type = "brook.test.Msg";
  const auto good = enc.encode(env, std::string("not a TestMsg"));
  const std::string good_bytes(reinterpret_cast<const char*>(good.data()), good.size());
  int bad_frames = 0;
  for (int i = 0; i < 100; ++i) {
    push.send(zmq::buffer(random_bytes(rng, rng() % 300)), zmq::send_flags::none);
    push.send(zmq::buffer(good_bytes.substr(0, rng() % good_bytes.size())), zmq::send_flags::none);
    bad_frames += 2;
  }
  push.send(zmq::buffer(good_bytes), zmq::send_flags::none);  // decodes, wrong payload type
  ++bad_frames;
  push.send(zmq::buffer(std::string("a")), zmq::send_flags::sndmore);
  push.send(zmq::buffer(std::string("b")), zmq::send_flags::none);
  ++bad_frames;
  env.channel = "elsewhere";
  const auto wrong_channel = enc.encode(env, 1);
  push.send(zmq::buffer(wrong_channel.data(), wrong_channel.size()), zmq::send_flags::none);
  ++bad_frames;
  ASSERT_TRUE(wait_for(
      [&] {
        return c.counter("sink", "work", &ChannelCounters::decode_errors) >=
               static_cast<std::uint64_t>(bad_frames);
      },
      10s))
      << "decode errors counted: " << c.counter("sink", "work", &ChannelCounters::decode_errors);
  zmq::socket_t big(ctx, zmq::socket_type::dealer);
  big.set(zmq::sockopt::linger, 0);
  big.connect(input);
  big.send(zmq::buffer(std::string(256 * 1024, 'x')), zmq::send_flags::none);

  // 3. The directory: garbage, unknown ops, multi-frame requests; each gets an error reply.
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.set(zmq::sockopt::rcvtimeo, 2000);
  dealer.connect(c.directory_endpoint());
  int replies = 0;
  for (int i = 0; i < 50; ++i) {
    dealer.send(zmq::buffer(random_bytes(rng, rng() % 200)), zmq::send_flags::none);
    zmq::message_t reply;
    if (dealer.recv(reply)) {
      DirectoryReply r;
      ASSERT_TRUE(decode({static_cast<const std::byte*>(reply.data()), reply.size()}, r));
      ASSERT_TRUE(std::holds_alternative<ErrorReply>(r.body));
      EXPECT_EQ(std::get<ErrorReply>(r.body).code, DirectoryErrc::kBadRequest);
      ++replies;
    }
  }
  EXPECT_EQ(replies, 50);
  dealer.send(zmq::buffer(std::string("x")), zmq::send_flags::sndmore);
  dealer.send(zmq::buffer(std::string("y")), zmq::send_flags::none);
  zmq::message_t reply;
  ASSERT_TRUE(dealer.recv(reply)) << "multi-frame request gets an error reply";

  // Real traffic is unaffected.
  ASSERT_EQ(source.wait(30s), 0) << source.log();
  ASSERT_TRUE(
      wait_for([&] { return c.counter("sink", "work", &ChannelCounters::received) >= 3000; }, 15s));
  EXPECT_NO_THROW(c.client().list());
  ASSERT_EQ(sink.stop(), 0) << sink.log();
  EXPECT_TRUE(c.directory().running());
  auto r = read_report(c.dir() / "sink-0.txt");
  std::uint64_t from_source = 0;
  for (const auto& m : r.messages)
    from_source += m.source == "source.0" ? 1 : 0;
  EXPECT_EQ(from_source, 3000u);
  EXPECT_NE(sink.log().find("malformed"), std::string::npos) << "decode errors are logged";
}

TEST(Garbage, FramesOverMaxMessageSizeAreCountedAndLoggedWithThePeer) {
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: oversize
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms}
channels:
  work: {pattern: pipeline, max_message_size: 64KiB, external: true}
nodes:
  sink:
    exec: brook-test-sink
    inputs: {in: work}
    params: {report: "{DIR}/sink-{instance}.txt"}
)");
  auto sink = c.start_node("brook-test-sink", "sink", 0);
  const auto entries = c.client().resolve("work").entries;
  ASSERT_EQ(entries.size(), 1u);
  zmq::context_t ctx;
  // The channel is at-least-once: its input is a ROUTER, a DEALER speaks to it like a producer.
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 1000);
  dealer.connect(entries[0].reg.endpoint);
  dealer.send(zmq::buffer(std::string(64 * 1024 + 1, 'x')), zmq::send_flags::none);
  dealer.send(zmq::buffer(std::string(100 * 1024, 'y')), zmq::send_flags::none);
  ASSERT_TRUE(wait_for(
      [&] { return c.counter("sink", "work", &ChannelCounters::decode_errors) == 2; }, 10s))
      << "decode errors counted: " << c.counter("sink", "work", &ChannelCounters::decode_errors);
  // The connection stays: a frame below the limit from the same peer is taken (and counted as
  // the bad envelope it is, not lost with a dropped connection).
  dealer.send(zmq::buffer(std::string("z")), zmq::send_flags::none);
  EXPECT_TRUE(wait_for(
      [&] { return c.counter("sink", "work", &ChannelCounters::decode_errors) == 3; }, 10s));
  ASSERT_EQ(sink.stop(), 0) << sink.log();
  const std::string log = sink.log();
  EXPECT_NE(log.find("dropping malformed message on port 'in' (channel 'work') from 127.0.0.1"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("frame larger than max_message_size"), std::string::npos) << log;
  EXPECT_NE(log.find("decode errors 3"), std::string::npos) << "the stop line: " << log;
}

TEST(Garbage, LongTopicsOnPubsubAreCountedOrIgnored) {
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: topics
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms}
channels:
  ticks: {pattern: pubsub}
nodes:
  source:
    exec: brook-test-source
    outputs: {out: ticks}
    params: {count: 3000, rate: 1000}
  sink:
    exec: brook-test-sink
    inputs: {in: ticks}
    params: {report: "{DIR}/sink-{instance}.txt"}
)");
  auto sink = c.start_node("brook-test-sink", "sink", 0);
  const auto entries = c.client().resolve("ticks").entries;
  ASSERT_EQ(entries.size(), 1u);
  const std::string sink_input = entries[0].reg.endpoint;
  const std::string long_tail(64 * 1024, 'x');

  // A subscriber of our own, registered like a node, so that the source's publisher connects to
  // it. Besides its hello topic it subscribes to a 64 KiB one, which the publisher must ignore.
  zmq::context_t ctx;
  zmq::socket_t intruder(ctx, zmq::socket_type::sub);
  intruder.set(zmq::sockopt::linger, 0);
  intruder.set(zmq::sockopt::rcvtimeo, 10000);
  intruder.bind("tcp://127.0.0.1:*");
  const std::string own_hello = "~brook/hello/intruder.0@0123456789abcdef";
  intruder.set(zmq::sockopt::subscribe, own_hello);
  intruder.set(zmq::sockopt::subscribe, "~brook/hello/" + long_tail);
  RegisterRequest reg{"intruder", 0, "0123456789abcdef", "test", 1, 60000, {}};
  reg.topology = "topics";
  reg.registrations.push_back({"ticks", Direction::kIn, Pattern::kPubsub,
                               intruder.get(zmq::sockopt::last_endpoint), "in", false});
  ASSERT_TRUE(std::holds_alternative<AckReply>(c.client().request(reg)));

  // Not waiting for READY: the source is ready once the intruder is welcomed, and the intruder's
  // socket takes the connection (and sends its subscriptions) only when it is used.
  auto source = c.start_node("brook-test-source", "source", 0, {}, false);
  zmq::message_t topic;
  zmq::message_t body;
  ASSERT_TRUE(intruder.recv(topic)) << source.log();
  EXPECT_EQ(topic.to_string(), own_hello);
  ASSERT_TRUE(topic.more());
  (void)intruder.recv(body);

  // A publisher of our own, sending the sink 64 KiB topics that start with the channel's name
  // (so that the SUB's prefix filter lets them through).
  zmq::socket_t pub(ctx, zmq::socket_type::pub);
  pub.set(zmq::sockopt::linger, 0);
  pub.connect(sink_input);
  ASSERT_TRUE(wait_for(
      [&] {
        pub.send(zmq::buffer("ticks" + long_tail), zmq::send_flags::sndmore);
        pub.send(zmq::buffer(std::string("not an envelope")), zmq::send_flags::none);
        return c.counter("sink", "ticks", &ChannelCounters::decode_errors) > 0;
      },
      10s));

  ASSERT_EQ(source.wait(30s), 0) << source.log();
  ASSERT_TRUE(wait_for(
      [&] { return c.counter("sink", "ticks", &ChannelCounters::received) >= 3000; }, 15s));
  ASSERT_EQ(sink.stop(), 0) << sink.log();
  EXPECT_NE(sink.log().find("(65541 bytes) is not channel 'ticks'"), std::string::npos)
      << sink.log();
  // Nothing was ever sent on the long hello topic.
  intruder.set(zmq::sockopt::rcvtimeo, 0);
  while (intruder.recv(topic)) {
    EXPECT_EQ(topic.to_string(), own_hello);
    if (topic.more()) (void)intruder.recv(body);
  }
}

TEST(Garbage, TheDirectoryRefusesAHeartbeatWithTooManyUserCounters) {
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: hostile
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms}
channels:
  work: {external: true}
nodes:
  sink:
    exec: brook-test-sink
    inputs: {in: work}
)");
  auto sink = c.start_node("brook-test-sink", "sink", 0);
  std::string incarnation;
  for (const auto& i : c.client().list().instances)
    if (i.node == "sink") incarnation = i.incarnation;
  ASSERT_FALSE(incarnation.empty());

  // A peer speaking for sink.0 (its node, instance and incarnation) with 10000 counters: the
  // directory would store whatever a heartbeat it accepts carries.
  HeartbeatRequest hb{"sink", 0, incarnation, {}};
  for (int i = 0; i < 10000; ++i)
    hb.counters.user_counters["c" + std::to_string(i)] = 1;
  zmq::context_t ctx;
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.set(zmq::sockopt::rcvtimeo, 5000);
  dealer.connect(c.directory_endpoint());
  dealer.send(zmq::buffer(encode(DirectoryRequest{1, hb})), zmq::send_flags::none);
  zmq::message_t reply;
  ASSERT_TRUE(dealer.recv(reply));
  DirectoryReply r;
  ASSERT_TRUE(decode({static_cast<const std::byte*>(reply.data()), reply.size()}, r));
  ASSERT_TRUE(std::holds_alternative<ErrorReply>(r.body));
  const std::string why = "counters.user_counters: more than 256 entries (heartbeat of sink.0)";
  EXPECT_EQ(std::get<ErrorReply>(r.body).code, DirectoryErrc::kBadRequest);
  EXPECT_EQ(std::get<ErrorReply>(r.body).detail, why);
  EXPECT_TRUE(wait_for(
      [&] {
        return c.directory().log().find("bad request from 127.0.0.1: " + why) != std::string::npos;
      },
      5s))
      << c.directory().log();

  // Nothing of it was stored, and the real sink.0 is still there.
  const auto instances = c.client().list().instances;
  ASSERT_EQ(instances.size(), 1u);
  EXPECT_TRUE(instances[0].counters.user_counters.empty());
  EXPECT_EQ(sink.stop(), 0) << sink.log();
}

}  // namespace
}  // namespace brook::test
