// The directory against hostile or careless registrations: replies stay within the clients' frame
// limit, memory stays bounded, and nodes recover on their own.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <thread>
#include <zmq.hpp>

#include "directory/directory_protocol.hpp"
#include "support/cluster.hpp"
#include "support/command.hpp"

namespace brook::test {
namespace {

// Speaks the directory protocol over a plain DEALER, as any local process can.
class RawClient {
 public:
  explicit RawClient(const std::string& endpoint) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.connect(endpoint);
  }
  // The reply, or nullopt if none came within 5 s.
  std::optional<DirectoryReplyBody> request(DirectoryRequestBody body) {
    const std::uint64_t id = next_id_++;
    const std::string bytes = encode(DirectoryRequest{id, std::move(body)});
    socket_.send(zmq::buffer(bytes));
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, 100ms) == 0) continue;
      zmq::message_t frame;
      (void)socket_.recv(frame);
      DirectoryReply reply;
      if (!decode({static_cast<const std::byte*>(frame.data()), frame.size()}, reply)) continue;
      if (reply.id == id) return std::move(reply.body);
    }
    return std::nullopt;
  }

 private:
  zmq::context_t context_;
  zmq::socket_t socket_{context_, zmq::socket_type::dealer};
  std::uint64_t next_id_ = 1;
};

// A registration of `node` holding `ports` outputs of `channel`, each with a 1000-byte endpoint.
RegisterRequest bulky(const std::string& node, const std::string& channel, int ports) {
  RegisterRequest r;
  r.topology = "hostile";
  r.node = node;
  r.incarnation = "00000000000000" + std::string(node.size() % 2 == 0 ? "aa" : "bb");
  r.host = "intruder";
  r.pid = 1;
  r.lease_ms = 60000;  // it never heartbeats: keep it for the whole test
  for (int i = 0; i < ports; ++i) {
    r.registrations.push_back(Registration{channel, Direction::kOut, Pattern::kPipeline,
                                           "tcp://" + std::string(990, 'x') + ":1",
                                           "p" + std::to_string(i), false});
  }
  return r;
}

constexpr const char* kTopology = R"(
topology: hostile
directory: {endpoints: ["{DIRECTORY}"], ttl: 3s, heartbeat: 1s}
channels:
  work: {pattern: pipeline, external: true}
nodes:
  sink:
    exec: brook-test-sink
    inputs: {in: work}
)";

TEST(DirectoryHostile, OversizedRegistrationsAreRefusedAndClientsRecover) {
  Cluster c;
  c.start_directory();
  c.write_topology(kTopology);
  auto sink = c.start_node("brook-test-sink", "sink", 0);

  // 24 instances of 200 entries of ~1 KiB on the sink's channel: ~5 MiB together, more than a
  // client accepts in one reply. The directory takes what fits and refuses the rest, naming the
  // limit.
  RawClient raw(c.directory_endpoint());
  int refused = 0;
  std::string why;
  for (int i = 0; i < 24; ++i) {
    auto reply = raw.request(bulky("fake" + std::to_string(i), "work", 200));
    ASSERT_TRUE(reply.has_value()) << "no reply to register " << i;
    if (const auto* err = std::get_if<ErrorReply>(&*reply)) {
      EXPECT_EQ(err->code, DirectoryErrc::kTooLarge) << err->detail;
      why = err->detail;
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_NE(why.find("limit of 3145728 bytes"), std::string::npos) << why;

  // brook ls still works: the list fits in a reply.
  const auto ls = run_command({bin("brook"), "ls", "--directory", c.directory_endpoint()}, 30s);
  EXPECT_EQ(ls.code, 0) << ls.describe();

  // The running node keeps its registration, and a restarted one registers and syncs its
  // channel (its snapshot holds every entry of "work").
  EXPECT_TRUE(wait_for([&] { return c.live_instances().count("sink.0") == 1; }, 5s));
  ASSERT_EQ(sink.stop(), 0) << sink.log();
  auto again = c.start_node("brook-test-sink", "sink", 0);
  EXPECT_TRUE(wait_for([&] { return c.live_instances().count("sink.0") == 1; }, 5s)) << again.log();
  EXPECT_EQ(again.stop(), 0) << again.log();
}

TEST(DirectoryHostile, MemoryStaysBoundedUnderARegistrationFlood) {
  Cluster c;
  auto& directory = c.start_directory();
  const std::uint64_t before = rss_kib(directory.pid());
  ASSERT_GT(before, 0u);

  // 1500 instances of 100 entries of ~1 KiB each (~150 MiB if all were kept), each on channels
  // of its own so watchers are not involved.
  RawClient raw(c.directory_endpoint());
  int accepted = 0;
  for (int i = 0; i < 1500; ++i) {
    auto reply = raw.request(bulky("flood" + std::to_string(i), "c" + std::to_string(i), 100));
    ASSERT_TRUE(reply.has_value()) << "no reply to register " << i;
    if (std::holds_alternative<AckReply>(*reply)) ++accepted;
  }
  const std::uint64_t after = rss_kib(directory.pid());
  std::cout << "directory RSS " << before << " KiB -> " << after << " KiB, " << accepted
            << " of 1500 registrations accepted\n";
  EXPECT_LT(accepted, 1500);
  if (!kAddressSanitizer) {
    EXPECT_LT(after, before + 64 * 1024) << "the directory's RSS grew by more than 64 MiB";
  }

  // And it still answers everyone.
  const auto ls = run_command({bin("brook"), "ls", "--directory", c.directory_endpoint()}, 30s);
  EXPECT_EQ(ls.code, 0) << ls.describe();
}

// The incarnation the directory lists for `name` ("node.instance"), or "" when not listed.
std::string incarnation_of(Cluster& c, const std::string& name) {
  for (const auto& i : c.client().list().instances) {
    if (i.node + "." + std::to_string(i.instance) == name) return i.incarnation;
  }
  return "";
}

TEST(DirectoryHostile, AForgedRegisterDoesNotEvictALiveInstance) {
  Cluster c;
  c.start_directory();
  c.write_topology(kTopology);
  auto sink = c.start_node("brook-test-sink", "sink", 0);
  const std::string real = incarnation_of(c, "sink.0");
  ASSERT_FALSE(real.empty());

  RawClient raw(c.directory_endpoint());
  RegisterRequest forged = bulky("sink", "work", 1);
  forged.lease_ms = 200;
  auto reply = raw.request(forged);
  ASSERT_TRUE(reply.has_value());
  const auto* err = std::get_if<ErrorReply>(&*reply);
  ASSERT_NE(err, nullptr) << "the forged register was accepted";
  EXPECT_EQ(err->code, DirectoryErrc::kStaleIncarnation);

  // For more than a lease (3 s) the real instance stays registered as itself.
  const auto until = std::chrono::steady_clock::now() + 4s;
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_EQ(incarnation_of(c, "sink.0"), real) << sink.log();
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(sink.stop(), 0) << sink.log();
}

// The incarnation is no secret (`list` shows it, and every envelope's producer id): without the
// token the live process registered with, a register copying it cannot redirect the instance's
// traffic, and a heartbeat or unregister copying it cannot renew or remove it.
TEST(DirectoryHostile, ACopiedIncarnationCannotRedirectALiveInstance) {
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: hostile
directory: {endpoints: ["{DIRECTORY}"], ttl: 3s, heartbeat: 1s}
channels:
  work: {pattern: pipeline}
nodes:
  source:
    exec: brook-test-source
    outputs: {out: work}
    params: {count: 300}
  sink:
    exec: brook-test-sink
    inputs: {in: work}
)");
  auto sink = c.start_node("brook-test-sink", "sink", 0);
  InstanceInfo real;
  for (const auto& i : c.client().list().instances) {
    if (i.node == "sink") real = i;
  }
  ASSERT_FALSE(real.incarnation.empty());
  ASSERT_EQ(real.registrations.size(), 1u);

  RawClient raw(c.directory_endpoint());
  RegisterRequest forged = bulky("sink", "work", 0);
  forged.incarnation = real.incarnation;
  forged.registrations = {
      Registration{"work", Direction::kIn, Pattern::kPipeline, "tcp://127.0.0.1:1", "in", false}};
  for (const std::string token : {"", "0123456789abcdef0123456789abcdef"}) {
    forged.token = token;
    auto reply = raw.request(forged);
    ASSERT_TRUE(reply.has_value());
    const auto* err = std::get_if<ErrorReply>(&*reply);
    ASSERT_NE(err, nullptr) << "a register copying the incarnation was accepted";
    EXPECT_EQ(err->code, DirectoryErrc::kStaleIncarnation);
    EXPECT_NE(err->detail.find("hostile/sink.0 (incarnation " + real.incarnation),
              std::string::npos)
        << err->detail;
    EXPECT_NE(err->detail.find("token does not match"), std::string::npos) << err->detail;
  }
  auto unreg = raw.request(UnregisterRequest{"sink", 0, real.incarnation, "hostile"});
  ASSERT_TRUE(unreg.has_value());
  EXPECT_TRUE(std::holds_alternative<ErrorReply>(*unreg)) << "a copied unregister was accepted";

  for (const auto& i : c.client().list().instances) {
    if (i.node != "sink") continue;
    EXPECT_EQ(i.incarnation, real.incarnation);
    EXPECT_EQ(i.registrations, real.registrations) << "the live instance's endpoint changed";
  }
  // Its traffic still reaches it.
  auto source = c.start_node("brook-test-source", "source", 0);
  EXPECT_TRUE(
      wait_for([&] { return c.counter("sink", "work", &ChannelCounters::received) >= 300; }, 20s))
      << sink.log();
  EXPECT_EQ(sink.stop(), 0) << sink.log();
}

TEST(DirectoryHostile, ASecondProcessWithTheSameInstanceEndsNonZero) {
  Cluster c;
  c.start_directory();
  c.write_topology(kTopology);
  auto first = c.start_node("brook-test-sink", "sink", 0);
  const std::string real = incarnation_of(c, "sink.0");
  ASSERT_FALSE(real.empty());

  auto second = c.start_node("brook-test-sink", "sink", 0, {}, /*wait_ready=*/false);
  const auto code = second.wait(30s);
  ASSERT_TRUE(code.has_value()) << "the second sink.0 kept running:\n" << second.log();
  EXPECT_EQ(*code, 1) << second.log();
  EXPECT_NE(second.log().find("give each process its own --instance"), std::string::npos)
      << second.log();

  EXPECT_EQ(incarnation_of(c, "sink.0"), real) << first.log();
  EXPECT_TRUE(first.running());
  EXPECT_EQ(first.stop(), 0) << first.log();
}

TEST(DirectoryHostile, ARestartAfterACrashTakesTheNameOnceTheLeaseLapses) {
  Cluster c;
  c.start_directory();
  c.write_topology(kTopology);
  auto crashed = c.start_node("brook-test-sink", "sink", 0);
  const std::string old = incarnation_of(c, "sink.0");
  crashed.signal(SIGKILL);
  ASSERT_TRUE(crashed.wait(5s).has_value());

  // Refused while the crashed process's 3 s lease runs, then registered: ready well within the
  // give-up time (9 s).
  const auto start = std::chrono::steady_clock::now();
  auto restarted = c.start_node("brook-test-sink", "sink", 0);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  EXPECT_LT(ms, 6000);
  const std::string now = incarnation_of(c, "sink.0");
  EXPECT_FALSE(now.empty());
  EXPECT_NE(now, old);
  EXPECT_EQ(restarted.stop(), 0) << restarted.log();
}

}  // namespace
}  // namespace brook::test
