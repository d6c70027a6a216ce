// security: curve with real processes: keys from `brook keygen`, a directory and nodes that
// let in only allowlisted keys, intruders that get nothing in, a capture with no plaintext, and
// junk connections that are dropped without slowing the real traffic.
#include "security/security.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>
#include <zmq.hpp>

#include "support/cluster.hpp"
#include "support/command.hpp"

namespace brook::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::string_view kMarker = "PLAINTEXT-MARKER-7d1c";

// source -> sink over a best-effort pipeline (a PULL input, so a foreign PUSH is a compatible
// peer: only security keeps it out). `{SECURITY}` is replaced by the security section.
constexpr const char* kTopology = R"(
topology: secure
directory: {endpoints: ["{DIRECTORY}"], heartbeat: 200ms, ttl: 1s}
{SECURITY}
channels:
  work: {delivery: best-effort, hwm: 100000}
nodes:
  source:
    exec: brook-test-source
    outputs: {out: work}
    params: {count: {COUNT}, rate: {RATE}, body_text: "PLAINTEXT-MARKER-7d1c"}
  sink:
    exec: brook-test-sink
    inputs: {in: work}
    params: {report: "{DIR}/sink-{instance}.txt", timing: "{DIR}/timing.txt"}
)";

std::string replace(std::string text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
  return text;
}

// A cluster whose directory and nodes use CURVE keys written by the real `brook keygen`.
struct SecureCluster {
  Cluster c;
  fs::path keys;
  Security cli;

  explicit SecureCluster(bool secure, int count = 2000, int rate = 2000) {
    keys = c.dir() / "keys";
    std::string text = replace(replace(kTopology, "{COUNT}", std::to_string(count)), "{RATE}",
                               std::to_string(rate));
    const std::string security =
        secure ? "security: {mechanism: curve, keys: keys, handshake_timeout: 500ms}" : "";
    if (secure) {
      // keygen needs the node names only; the directory's endpoint is not known yet.
      const fs::path pre = c.dir().write(
          "keygen.yaml",
          replace(replace(text, "{SECURITY}", ""), "{DIRECTORY}", "tcp://127.0.0.1:1"));
      const auto r =
          run_command({bin("brook"), "keygen", keys.string(), "--topology", pre.string()});
      EXPECT_EQ(r.code, 0) << r.out << r.err;
      c.start_directory("tcp://127.0.0.1:*", {"--keys", keys.string()});
      SecuritySpec spec;
      spec.mechanism = Mechanism::kCurve;
      spec.keys = keys;
      cli = Security::load(spec, std::string(kCliIdentity));
      c.set_client_security(cli);
    } else {
      c.start_directory();
    }
    c.write_topology(replace(text, "{SECURITY}", security));
  }
};

std::string input_endpoint(Cluster& c) {
  const auto entries = c.client().resolve("work").entries;
  for (const auto& e : entries) {
    if (e.reg.direction == Direction::kIn) return e.reg.endpoint;
  }
  return {};
}

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

// Pushes `n` frames at `endpoint` from a socket configured by `setup`; returns once they were
// queued (or after 1 s: a peer that never completes the handshake takes nothing).
void intrude(const std::string& endpoint, const std::function<void(zmq::socket_t&)>& setup, int n) {
  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::push);
  s.set(zmq::sockopt::linger, 1000);
  setup(s);
  s.connect(endpoint);
  for (int i = 0; i < n; ++i) {
    const std::string frame = "intruder frame " + std::to_string(i);
    if (!s.send(zmq::buffer(frame), zmq::send_flags::dontwait)) std::this_thread::sleep_for(5ms);
  }
}

TEST(Security, KeygenWritesPrivateSecretsAndAnAllowlistAndKeepsThemOnRerun) {
  SecureCluster sc(true);
  struct stat st {};
  ASSERT_EQ(::stat(sc.keys.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  for (const char* name : {"source", "sink", "directory", "cli"}) {
    ASSERT_EQ(::stat((sc.keys / (std::string(name) + ".key_secret")).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
  }
  const Allowlist first = read_allowlist(sc.keys / "allowlist");
  EXPECT_EQ(first.size(), 4u);
  const auto again = run_command({bin("brook"), "keygen", sc.keys.string(), "--topology",
                                  (sc.c.dir() / "keygen.yaml").string()});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(read_allowlist(sc.keys / "allowlist"), first) << "a re-run keeps existing keys";
  const auto forced = run_command({bin("brook"), "keygen", sc.keys.string(), "--topology",
                                   (sc.c.dir() / "keygen.yaml").string(), "--force"});
  EXPECT_EQ(forced.code, 0) << forced.err;
  EXPECT_NE(read_allowlist(sc.keys / "allowlist").at("sink"), first.at("sink"));

  ::chmod((sc.keys / "sink.key_secret").c_str(), 0644);
  auto node = Process::start(
      {{bin("brook-test-sink"), "--topology", sc.c.topology().string(), "--node", "sink"},
       {},
       sc.c.dir() / "open-key.log",
       false});
  EXPECT_EQ(node.wait(10s), 2) << "a secret readable by others is refused at start";
  EXPECT_NE(node.log().find("chmod 600"), std::string::npos) << node.log();

  // An allowlist, or a key directory, that others can write: anyone could add their key.
  ::chmod((sc.keys / "sink.key_secret").c_str(), 0600);
  const auto refused_with = [&](const std::string& log_name) {
    auto p = Process::start(
        {{bin("brook-test-sink"), "--topology", sc.c.topology().string(), "--node", "sink"},
         {},
         sc.c.dir() / log_name,
         false});
    const auto code = p.wait(10s);
    return std::make_pair(code.value_or(-1), p.log());
  };
  ::chmod((sc.keys / "allowlist").c_str(), 0666);
  const auto [allowlist_code, allowlist_log] = refused_with("open-allowlist.log");
  EXPECT_EQ(allowlist_code, 2) << "an allowlist anyone can write is refused at start";
  EXPECT_NE(allowlist_log.find("chmod go-w " + (sc.keys / "allowlist").string()), std::string::npos)
      << allowlist_log;
  ::chmod((sc.keys / "allowlist").c_str(), 0644);
  ::chmod(sc.keys.c_str(), 0777);
  const auto [dir_code, dir_log] = refused_with("open-key-dir.log");
  ::chmod(sc.keys.c_str(), 0700);
  EXPECT_EQ(dir_code, 2) << "a key directory anyone can write is refused at start";
  EXPECT_NE(dir_log.find("the key directory " + sc.keys.string()), std::string::npos) << dir_log;
}

TEST(Security, OnlyAllowlistedKeysGetMessagesInAndNobodyElseRegisters) {
  SecureCluster sc(true, 3000, 1000);
  auto sink = sc.c.start_node("brook-test-sink", "sink");
  const std::string input = input_endpoint(sc.c);
  ASSERT_FALSE(input.empty());
  auto source = sc.c.start_node("brook-test-source", "source");

  const CurveKeyPair stranger = generate_curve_key_pair();
  const std::string sink_key = read_allowlist(sc.keys / "allowlist").at("sink");
  const std::string source_key = read_allowlist(sc.keys / "allowlist").at("source");
  const CurveKeyPair cli_keys = read_secret_key_file(sc.keys / "cli.key_secret");
  // An unknown key that knows the sink's public key: the ZAP handler refuses it.
  intrude(
      input,
      [&](zmq::socket_t& s) {
        s.set(zmq::sockopt::curve_serverkey, sink_key);
        s.set(zmq::sockopt::curve_publickey, stranger.public_key);
        s.set(zmq::sockopt::curve_secretkey, stranger.secret_key);
      },
      100);
  // No CURVE at all.
  intrude(
      input, [](zmq::socket_t&) {}, 100);
  // An allowlisted key that expects the wrong server: the handshake fails.
  intrude(
      input,
      [&](zmq::socket_t& s) {
        s.set(zmq::sockopt::curve_serverkey, source_key);
        s.set(zmq::sockopt::curve_publickey, cli_keys.public_key);
        s.set(zmq::sockopt::curve_secretkey, cli_keys.secret_key);
      },
      100);

  // The directory: strangers get no answer at all, known keys only speak for themselves.
  RegisterRequest reg{
      "sink",
      5,
      "intruder",
      "localhost",
      1,
      0,
      {Registration{"work", Direction::kIn, Pattern::kPipeline, "tcp://127.0.0.1:9", "in", false}},
      "secure"};
  {
    DirectoryClient plain(sc.c.directory_endpoint(), 700ms);
    EXPECT_THROW(plain.request(reg), Error) << "a NULL client gets no reply";
    SecuritySpec spec;
    spec.mechanism = Mechanism::kCurve;
    spec.keys = sc.keys;
    const fs::path stranger_file = sc.c.dir() / "stranger.key_secret";
    write_key_files(sc.c.dir().path(), "stranger", stranger);
    DirectoryClient unknown(sc.c.directory_endpoint(), 700ms,
                            Security::load(spec, "stranger", stranger_file));
    EXPECT_THROW(unknown.request(reg), Error) << "an unknown key gets no reply";
    const auto as_cli = sc.c.client().request(reg);
    ASSERT_TRUE(std::holds_alternative<ErrorReply>(as_cli));
    EXPECT_EQ(std::get<ErrorReply>(as_cli).code, DirectoryErrc::kDenied);
    DirectoryClient as_source(sc.c.directory_endpoint(), 700ms, Security::load(spec, "source"));
    const auto r = as_source.request(reg);
    ASSERT_TRUE(std::holds_alternative<ErrorReply>(r)) << "the source's key cannot pose as sink";
    EXPECT_EQ(std::get<ErrorReply>(r).code, DirectoryErrc::kDenied);
  }

  EXPECT_EQ(source.wait(30s), 0);
  ASSERT_TRUE(wait_for(
      [&] { return sc.c.counter("sink", "work", &ChannelCounters::received) >= 3000; }, 20s));
  EXPECT_TRUE(
      wait_for([&] { return sc.c.counter("sink", "work", &ChannelCounters::refused) >= 3; }, 5s))
      << "each intruder is counted: " << sc.c.counter("sink", "work", &ChannelCounters::refused);
  EXPECT_EQ(sc.c.counter("sink", "work", &ChannelCounters::received), 3000u)
      << "none of the 300 intruder frames got in";
  EXPECT_EQ(sc.c.counter("sink", "work", &ChannelCounters::decode_errors), 0u);
  EXPECT_EQ(sc.c.live_instances(), (std::set<std::string>{"sink.0"}))
      << "no intruder registered (the source has exited)";
  sink.stop();
  const SinkReport report = read_report(sc.c.dir() / "sink-0.txt");
  EXPECT_EQ(report.messages.size(), 3000u);
  const std::string log = sink.log();
  EXPECT_NE(log.find("refused a connection from 127.0.0.1"), std::string::npos) << log;
  // The handshake failures are logged at most once a second, with a reason that depends on how
  // far the intruder got before it left: require the line, not the reason.
  EXPECT_NE(log.find("refused a connection to input 'in'"), std::string::npos) << log;
  const std::string dir_log = sc.c.directory().log();
  EXPECT_NE(dir_log.find("denied a request"), std::string::npos) << dir_log;
  EXPECT_NE(dir_log.find("its CURVE handshake failed"), std::string::npos) << "the NULL client";
  EXPECT_NE(dir_log.find("is not on the allowlist"), std::string::npos) << "the unknown key";
}

// Under CURVE a directory that knows the topology takes a node's key only for the replicas the
// topology declares: holding the sink's key is not enough to add a sink.5 that draws traffic.
TEST(Security, ADirectoryWithTheTopologyRefusesReplicasItDoesNotDeclare) {
  SecureCluster sc(true);
  auto directory =
      Process::start({{bin("brook-directory"), "--bind", "tcp://127.0.0.1:*", "--topology",
                       (sc.c.dir() / "keygen.yaml").string(), "--keys", sc.keys.string()},
                      {},
                      sc.c.dir() / "declaring-directory.log"});
  const std::string ep = directory.ready_value("router");
  SecuritySpec spec;
  spec.mechanism = Mechanism::kCurve;
  spec.keys = sc.keys;
  DirectoryClient as_sink(ep, 2s, Security::load(spec, "sink"));
  RegisterRequest reg{
      "sink",
      5,
      "spare",
      "localhost",
      1,
      0,
      {Registration{"work", Direction::kIn, Pattern::kPipeline, "tcp://127.0.0.1:9", "in", false}},
      "secure"};
  const auto beyond = as_sink.request(reg);
  ASSERT_TRUE(std::holds_alternative<ErrorReply>(beyond)) << "sink.5 was accepted";
  EXPECT_EQ(std::get<ErrorReply>(beyond).code, DirectoryErrc::kDenied);
  EXPECT_NE(std::get<ErrorReply>(beyond).detail.find(
                "instance 5 of node 'sink' is beyond the 1 replica(s) topology 'secure' declares"),
            std::string::npos)
      << std::get<ErrorReply>(beyond).detail;
  reg.instance = 0;
  EXPECT_TRUE(std::holds_alternative<AckReply>(as_sink.request(reg))) << "sink.0 is declared";
}

TEST(Security, ATapWhoseRegistrationIsDeniedExitsNonZeroSayingWhy) {
  SecureCluster sc(true, 1000000, 200);
  auto sink = sc.c.start_node("brook-test-sink", "sink");
  auto source = sc.c.start_node("brook-test-source", "source");

  // A second directory whose allowlist lists the cli key under another name: it admits the
  // tap's connection (so the tap starts) and denies the registration of its cli-... node.
  const fs::path other = sc.c.dir() / "other-keys";
  fs::create_directory(other);
  fs::permissions(other, fs::perms::owner_all);
  fs::copy_file(sc.keys / "directory.key_secret", other / "directory.key_secret");
  std::ifstream in(sc.keys / "allowlist");
  std::string allowlist;
  for (std::string line; std::getline(in, line);)
    allowlist += (line.rfind("cli ", 0) == 0 ? "operator " + line.substr(4) : line) + "\n";
  std::ofstream(other / "allowlist") << allowlist;
  auto other_directory = Process::start(
      {{bin("brook-directory"), "--bind", "tcp://127.0.0.1:*", "--keys", other.string()},
       {},
       sc.c.dir() / "other-directory.log"});
  const std::string other_ep = other_directory.ready_value("router");

  const auto started = std::chrono::steady_clock::now();
  const auto denied =
      run_command({bin("brook"), "tap", "work", "--topology", sc.c.topology().string(),
                   "--directory", other_ep, "--keys", sc.keys.string(), "--duration", "30s"},
                  60s);
  EXPECT_EQ(denied.code, 1) << denied.describe();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 20s) << "exits once not registered";
  EXPECT_NE(denied.err.find("refused register: denied"), std::string::npos) << denied.describe();
  EXPECT_NE(denied.err.find("brook tap: not registered with the directory at " + other_ep),
            std::string::npos)
      << denied.describe();
  EXPECT_NE(denied.err.find("which the directory's allowlist must list as 'cli'"),
            std::string::npos)
      << denied.describe();

  // With the directory that lists the cli key as cli, the same tap is served.
  const auto served =
      run_command({bin("brook"), "tap", "work", "--topology", sc.c.topology().string(), "--keys",
                   sc.keys.string(), "--count", "3"},
                  60s);
  EXPECT_EQ(served.code, 0) << served.describe();
  EXPECT_EQ(source.stop(), 0) << source.log();
  EXPECT_EQ(sink.stop(), 0) << sink.log();
}

// A missing or group-readable --key-file is a configuration error, exit 2 (docs/cli.md, "Exit
// codes"), for every tool, not "the directory did not answer" (3).
TEST(Security, ABadKeyFileIsAConfigurationErrorExit2) {
  SecureCluster sc(true);
  const fs::path missing = sc.c.dir() / "nowhere.key_secret";
  const fs::path open_key = sc.c.dir() / "open.key_secret";
  fs::copy_file(sc.keys / "cli.key_secret", open_key);
  fs::permissions(open_key, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                fs::perms::others_read);
  const std::string topology = sc.c.topology().string();
  for (const auto& [key_file, why] :
       {std::pair{missing, std::string("cannot read key file ") + missing.string()},
        std::pair{open_key, "key file " + open_key.string() + " is readable by group or others"}}) {
    const std::vector<std::vector<std::string>> commands{
        {bin("brook"), "tap", "work", "--topology", topology, "--key-file", key_file.string()},
        {bin("brook"), "tap", "work", "--directory", sc.c.directory_endpoint(), "--keys",
         sc.keys.string(), "--key-file", key_file.string()},
        {bin("brook"), "send", "work", "{}", "--topology", topology, "--key-file",
         key_file.string()},
        {bin("brook"), "ls", "--topology", topology, "--key-file", key_file.string()}};
    for (const auto& argv : commands) {
      const auto r = run_command(argv, 30s);
      EXPECT_EQ(r.code, 2) << r.describe();
      EXPECT_NE(r.err.find(why), std::string::npos) << r.describe();
    }
  }
}

// Every byte on the loopback interface while `fn` runs (AF_PACKET: needs CAP_NET_RAW).
class LoopbackCapture {
 public:
  LoopbackCapture() {
    fd_ = ::socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (fd_ < 0) return;
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_ALL);
    addr.sll_ifindex = static_cast<int>(::if_nametoindex("lo"));
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
    thread_ = std::thread([this] {
      std::string buf(70000, '\0');
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
        if (n > 0) bytes_.append(buf.data(), static_cast<std::size_t>(n));
      }
    });
  }
  ~LoopbackCapture() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  std::string stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return bytes_;
  }

 private:
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::string bytes_;
};

std::size_t captured_markers(bool secure) {
  SecureCluster sc(secure, 200, 1000);
  auto sink = sc.c.start_node("brook-test-sink", "sink");
  LoopbackCapture cap;
  if (!cap.ok()) return std::string::npos;
  auto source = sc.c.start_node("brook-test-source", "source");
  EXPECT_EQ(source.wait(30s), 0);
  EXPECT_TRUE(wait_for(
      [&] { return sc.c.counter("sink", "work", &ChannelCounters::received) >= 200; }, 10s));
  const std::string bytes = cap.stop();
  std::size_t n = 0;
  for (auto pos = bytes.find(kMarker); pos != std::string::npos; pos = bytes.find(kMarker, pos + 1))
    ++n;
  return n;
}

TEST(Security, ACaptureOfTheChannelHoldsNoPlaintext) {
  const std::size_t plain = captured_markers(false);
  if (plain == std::string::npos) GTEST_SKIP() << "no AF_PACKET capture here (needs CAP_NET_RAW)";
  EXPECT_GE(plain, 200u) << "without security the capture sees every payload (so it works)";
  EXPECT_EQ(captured_markers(true), 0u) << "with CURVE no payload crosses the wire in clear";
}

// Opens `n` junk connections (half to the node's input, half to the directory; half idle, half
// sending garbage) again and again until `stop`, each round waiting until the peers closed them.
// Records how long each idle one stayed open, and whether any outlived 3 s.
struct JunkLoad {
  std::atomic<bool> stop{false};
  std::vector<double> idle_open_s;
  int rounds = 0;
  int outlived = 0;

  void run(const std::string& input, const std::string& directory, int n) {
    while (!stop) {
      std::vector<std::pair<int, bool>> fds;  // (fd, idle)
      const auto opened = std::chrono::steady_clock::now();
      for (int i = 0; i < n; ++i) {
        const int fd = connect_tcp(i % 2 == 0 ? input : directory);
        if (fd < 0) continue;
        const bool idle = i % 4 < 2;
        if (!idle) {
          const std::string garbage(512, static_cast<char>(0xA5 + i));
          [[maybe_unused]] auto w = ::write(fd, garbage.data(), garbage.size());
        }
        fds.emplace_back(fd, idle);
      }
      // All at once, so each close is timed when it happens.
      std::vector<bool> closed(fds.size(), false);
      std::size_t open = fds.size();
      char buf[4096];
      while (open > 0) {
        const auto left = 3000ms - std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - opened);
        std::vector<pollfd> p;
        std::vector<std::size_t> which;
        for (std::size_t i = 0; i < fds.size(); ++i) {
          if (closed[i]) continue;
          p.push_back({fds[i].first, POLLIN, 0});
          which.push_back(i);
        }
        if (left.count() <= 0 || ::poll(p.data(), p.size(), static_cast<int>(left.count())) <= 0)
          break;
        for (std::size_t k = 0; k < p.size(); ++k) {
          if (p[k].revents == 0 || ::read(p[k].fd, buf, sizeof buf) > 0) continue;
          const std::size_t i = which[k];
          closed[i] = true;
          --open;
          if (fds[i].second) {
            idle_open_s.push_back(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - opened).count());
          }
        }
      }
      outlived += static_cast<int>(open);
      for (auto [fd, idle] : fds)
        ::close(fd);
      ++rounds;
    }
  }
};

// Sink-side seconds from first to last of 4000 messages paced at 2000/s, with `junk` junk
// connections kept coming at the input and the directory meanwhile.
long peak_rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmHWM:")) return std::stol(line.substr(6));
  }
  return -1;
}

double timed_run(int junk, JunkLoad& load, long& sink_peak_kib) {
  SecureCluster sc(true, 4000, 2000);
  auto sink = sc.c.start_node("brook-test-sink", "sink");
  const std::string input = input_endpoint(sc.c);
  std::thread junk_thread;
  if (junk > 0) {
    junk_thread = std::thread([&] { load.run(input, sc.c.directory_endpoint(), junk); });
  }
  auto source = sc.c.start_node("brook-test-source", "source");
  EXPECT_EQ(source.wait(30s), 0);
  EXPECT_TRUE(wait_for(
      [&] { return sc.c.counter("sink", "work", &ChannelCounters::received) >= 4000; }, 20s));
  load.stop = true;
  if (junk_thread.joinable()) junk_thread.join();
  sink_peak_kib = peak_rss_kib(sink.pid());
  sink.stop();
  EXPECT_EQ(read_report(sc.c.dir() / "sink-0.txt").messages.size(), 4000u);
  std::ifstream timing(sc.c.dir() / "timing.txt");
  double count = 0, first = 0, last = 0;
  timing >> count >> first >> last;
  return (last - first) / 1e9;
}

TEST(Security, JunkConnectionsAreDroppedAndDoNotSlowRealTraffic) {
  JunkLoad none;
  long clean_kib = 0;
  const double clean = timed_run(0, none, clean_kib);
  JunkLoad load;
  long junk_kib = 0;
  const double with_junk = timed_run(50, load, junk_kib);
  EXPECT_LT(junk_kib, clean_kib + 16 * 1024) << "the sink's memory stays bounded under junk";
  ASSERT_GT(clean, 0);
  ASSERT_GT(with_junk, 0);
  // Paced at 2000 msg/s: junk must not stretch the run by more than ~10 %.
  EXPECT_GE(clean / with_junk, 0.9)
      << "clean " << clean << " s, with 50 junk connections " << with_junk << " s";
  EXPECT_GE(load.rounds, 1);
  EXPECT_EQ(load.outlived, 0) << "every junk connection is closed";
  ASSERT_FALSE(load.idle_open_s.empty());
  // The node's handshake interval is the topology's 500 ms, the directory's (started with
  // --keys, no topology) the default 2 s; allow 0.5 s for a loaded machine.
  for (double t : load.idle_open_s) {
    EXPECT_LT(t, 2.5) << "an idle connection outlived the handshake interval";
  }
  const auto quick = std::count_if(load.idle_open_s.begin(), load.idle_open_s.end(),
                                   [](double t) { return t < 1.0; });
  EXPECT_GE(quick, static_cast<long>(load.idle_open_s.size() / 2 - 1))
      << "the node's idle junk goes after its 500 ms handshake interval";
  std::cout << "junk: " << load.rounds << " round(s) of 50 connections; run " << clean
            << " s clean, " << with_junk << " s with junk (ratio " << clean / with_junk
            << "); sink peak RSS " << clean_kib << " KiB clean, " << junk_kib << " KiB with junk\n";
}

}  // namespace
}  // namespace brook::test
