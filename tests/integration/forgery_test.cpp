// Hostile peers at a node's input (issue 16): a forged envelope must not silence a real
// producer, with or without CURVE, and a flood of forged welcomes must not grow a subscriber.
#include <gtest/gtest.h>
#include <signal.h>

#include <brook/envelope_codec.hpp>
#include <fstream>
#include <sstream>
#include <thread>
#include <zmq.hpp>

#include "security/security.hpp"
#include "support/cluster.hpp"
#include "support/command.hpp"
#include "support/journals.hpp"
#include "wire/control_frames.hpp"

namespace brook::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string replace(std::string text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
  return text;
}

std::string incarnation_of(Cluster& c, const std::string& node) {
  for (const auto& i : c.client().list().instances)
    if (i.node == node) return i.incarnation;
  return {};
}

std::string input_of(Cluster& c, const std::string& channel) {
  for (const auto& e : c.client().resolve(channel).entries)
    if (e.reg.direction == Direction::kIn) return e.reg.endpoint;
  return {};
}

// source -> sink, at-least-once. `{SECURITY}` is replaced by the security section.
constexpr const char* kPipeline = R"(
topology: forged
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms, ttl: 1s}
{SECURITY}
channels:
  work: {delivery: at-least-once, ack_timeout: 2s}
nodes:
  source: {exec: brook-test-source, outputs: {out: work}, params: {count: 3000, rate: 1000}}
  sink: {exec: brook-test-sink, inputs: {in: work}, params: {journal: "{DIR}/journal.txt"}}
)";

// One envelope per run, from a connection of its own, claiming to be the real source with seq
// 2^63. Before the fix every later message of the source counted as a duplicate: acknowledged,
// never handled.
void forged_seq_does_not_silence_the_producer(bool secure) {
  constexpr std::uint64_t kCount = 3000;
  Cluster c;
  const fs::path keys = c.dir() / "keys";
  std::string security;
  CurveKeyPair cli_keys;
  if (secure) {
    const fs::path pre = c.dir().write("keygen.yaml", replace(replace(kPipeline, "{SECURITY}", ""),
                                                              "{DIRECTORY}", "tcp://127.0.0.1:1"));
    const auto r = run_command({bin("brook"), "keygen", keys.string(), "--topology", pre.string()});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    c.start_directory("tcp://127.0.0.1:*", {"--keys", keys.string()});
    SecuritySpec spec;
    spec.mechanism = Mechanism::kCurve;
    spec.keys = keys;
    c.set_client_security(Security::load(spec, std::string(kCliIdentity)));
    security = "security: {mechanism: curve, keys: keys}";
    cli_keys = read_secret_key_file(keys / "cli.key_secret");
  } else {
    c.start_directory();
  }
  c.write_topology(replace(kPipeline, "{SECURITY}", security));
  auto sink = c.start_node("brook-test-sink", "sink");
  auto source = c.start_node("brook-test-source", "source");
  ASSERT_TRUE(
      wait_for([&] { return c.counter("sink", "work", &ChannelCounters::received) >= 300; }, 20s));
  const std::string producer = "source.0@" + incarnation_of(c, "source");
  const std::string input = input_of(c, "work");
  ASSERT_FALSE(input.empty());

  zmq::context_t ctx;
  zmq::socket_t forger(ctx, zmq::socket_type::dealer);
  forger.set(zmq::sockopt::linger, 1000);
  if (secure) {
    // The cli key is on the allowlist: the connection itself is let in.
    forger.set(zmq::sockopt::curve_serverkey, read_allowlist(keys / "allowlist").at("sink"));
    forger.set(zmq::sockopt::curve_publickey, cli_keys.public_key);
    forger.set(zmq::sockopt::curve_secretkey, cli_keys.secret_key);
  }
  forger.connect(input);
  EnvelopeEncoder enc;
  OutgoingEnvelope env;
  env.producer = producer;
  env.seq = std::uint64_t{1} << 63;
  env.channel = "work";
  env.type = "brook.test.Msg";
  const auto forged = enc.encode(env, std::string("forged"));
  forger.send(zmq::buffer(forged.data(), forged.size()), zmq::send_flags::none);
  // Under CURVE the cli key cannot speak for node 'source': dropped, counted as forged. Without
  // it nothing tells the forger from the producer: its envelope waits, unacknowledged, for the
  // producer's connection to close, and would get a record of its own after that grace.
  const std::string logged =
      secure ? "claiming producer '" + producer + "'"
             : "producer '" + producer + "' on channel 'work' speaks from a second connection";
  ASSERT_TRUE(wait_for(
      [&] {
        return secure ? c.counter("sink", "work", &ChannelCounters::forged) >= 1
                      : sink.log().find(logged) != std::string::npos;
      },
      10s))
      << sink.log();

  ASSERT_EQ(source.wait(60s), 0) << source.log();
  ASSERT_EQ(sink.stop(), 0) << sink.log();
  const std::uint64_t handled = tally({c.dir() / "journal.txt"}, "source.0", kCount).distinct;
  std::cout << (secure ? "curve, cli key" : "no security") << ": forged seq 2^63 as " << producer
            << "; the sink handled " << handled << " of " << kCount << "\n";
  EXPECT_EQ(handled, kCount) << "the real producer's messages after the forgery were handled";
  EXPECT_NE(sink.log().find(logged), std::string::npos) << sink.log();
}

TEST(Forgery, AForgedSeqDoesNotSilenceTheProducer) {
  forged_seq_does_not_silence_the_producer(false);
}

TEST(Forgery, AForgedSeqUnderCurveWithTheCliKeyDoesNotSilenceTheProducer) {
  forged_seq_does_not_silence_the_producer(true);
}

// A publisher of our own connects to the subscriber's input and sends it a million welcomes
// from made-up publishers (at most 20 s of them). Before the fix the subscriber remembered
// every one: 353 MiB, never freed.
TEST(Forgery, AMillionForgedWelcomesKeepTheSubscriberBounded) {
  constexpr std::uint64_t kWelcomes = 1'000'000;
  constexpr std::uint64_t kRssBoundKiB = 64 * 1024;
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: welcomes
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms}
channels:
  ticks: {pattern: pubsub}
nodes:
  source:
    exec: brook-test-source
    outputs: {out: ticks}
    params: {count: 100000, rate: 200}
  sink:
    exec: brook-test-sink
    inputs: {in: ticks}
)");
  auto sink = c.start_node("brook-test-sink", "sink");
  auto source = c.start_node("brook-test-source", "source");
  ASSERT_TRUE(
      wait_for([&] { return c.counter("sink", "ticks", &ChannelCounters::received) >= 20; }, 20s));
  const std::string hello = "~brook/hello/sink.0@" + incarnation_of(c, "sink");
  const std::string input = input_of(c, "ticks");
  ASSERT_FALSE(input.empty());
  const std::uint64_t rss_before = rss_kib(sink.pid());

  zmq::context_t ctx;
  zmq::socket_t pub(ctx, zmq::socket_type::xpub);
  pub.set(zmq::sockopt::linger, 0);
  pub.set(zmq::sockopt::xpub_nodrop, 1);
  pub.set(zmq::sockopt::sndhwm, 10000);
  pub.connect(input);
  // Wait for the subscriber's subscriptions, so what we send is not filtered out here.
  bool subscribed = false;
  const auto sub_deadline = std::chrono::steady_clock::now() + 10s;
  while (!subscribed && std::chrono::steady_clock::now() < sub_deadline) {
    zmq::pollitem_t item{pub.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, 100ms) == 0) continue;
    zmq::message_t sub;
    (void)pub.recv(sub);
    subscribed = sub.to_string().find(hello) != std::string::npos;
  }
  ASSERT_TRUE(subscribed);

  std::uint64_t sent = 0;
  std::uint64_t rss_peak = rss_before;
  msgpack::sbuffer body;
  const auto flood_until = std::chrono::steady_clock::now() + 20s;
  while (sent < kWelcomes && std::chrono::steady_clock::now() < flood_until) {
    detail::encode_welcome(
        detail::Welcome{"forged.0@" + std::to_string(sent) + std::string(200, 'x'), "ticks", 1},
        body);
    if (!pub.send(zmq::buffer(hello), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      zmq::pollitem_t item{pub.handle(), 0, ZMQ_POLLOUT, 0};
      (void)zmq::poll(&item, 1, 10ms);
      continue;
    }
    pub.send(zmq::buffer(body.data(), body.size()), zmq::send_flags::none);
    if (++sent % 50000 == 0) rss_peak = std::max(rss_peak, rss_kib(sink.pid()));
  }
  // What was sent has been read once the subscriber takes real messages again promptly.
  const std::uint64_t received = c.counter("sink", "ticks", &ChannelCounters::received);
  ASSERT_TRUE(wait_for(
      [&] {
        rss_peak = std::max(rss_peak, rss_kib(sink.pid()));
        return c.counter("sink", "ticks", &ChannelCounters::received) >= received + 200;
      },
      30s))
      << sink.log();
  const std::uint64_t rss_after = rss_kib(sink.pid());
  std::cout << "forged welcomes: " << sent << " sent; subscriber RSS " << rss_before / 1024
            << " MiB before, " << rss_peak / 1024 << " MiB peak, " << rss_after / 1024
            << " MiB after (bound " << kRssBoundKiB / 1024 << " MiB)\n";
  EXPECT_GE(sent, 100'000u) << "the flood was not much of one";
  if (!kAddressSanitizer) {
    EXPECT_LT(rss_peak, kRssBoundKiB);
  }
  EXPECT_NE(sink.log().find("welcomes from publishers the directory does not list"),
            std::string::npos)
      << sink.log();
  EXPECT_EQ(source.stop(), 0) << source.log();
  EXPECT_EQ(sink.stop(), 0) << sink.log();
}

}  // namespace
}  // namespace brook::test
