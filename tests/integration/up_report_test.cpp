// `brook up` telling what went wrong: an instance whose name another process holds, messages a
// job topology dead-lettered or discarded, a closed stdout, one stop signalled twice.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "support/cluster.hpp"
#include "support/command.hpp"
#include "support/process.hpp"
#include "support/up_fixture.hpp"

namespace brook::test {
namespace {

using UpReport = UpTest;

bool has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

// `brook up` of the cluster's current topology file against the cluster's directory.
Process up_on(Cluster& c) {
  return Process::start({.argv = {bin("brook"), "up", c.topology().string(), "--quiet",
                                  "--directory", c.directory_endpoint()},
                         .env = {},
                         .log = c.dir() / "up.log",
                         .wait_ready = false});
}

// A stray process holds sink.0 (started by hand, same --instance): brook up's sink.0 cannot
// register, gives up after three leases, and brook up says why and fails instead of restarting
// it into the same wall.
TEST_F(UpReport, AnInstanceWhoseNameIsTakenIsANamedFailure) {
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: up-clash
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s}
channels: {work: {external: true}}
nodes:
  sink: {exec: brook-test-sink, inputs: {in: work},
         restart: {policy: on-failure, backoff: {initial: 100ms}}}
)");
  Process stray = c.start_node("brook-test-sink", "sink", 0);
  Process p = up_on(c);
  const auto code = p.wait(40s);
  ASSERT_TRUE(code.has_value()) << p.log();
  EXPECT_EQ(*code, 1) << p.log();
  const std::string log = p.log();
  const std::string clash = "instance name clash: sink.0 is registered at " +
                            c.directory_endpoint() + " by another process (pid " +
                            std::to_string(stray.pid()) + " on ";
  EXPECT_TRUE(has(log, "sink.0 cannot register: " + clash)) << log;
  EXPECT_TRUE(has(log, "sink.0 failed (exit 1): " + clash)) << log;
  EXPECT_TRUE(has(log, "; not restarted: give each process its own --instance")) << log;
  EXPECT_TRUE(has(log, "1 failed (sink.0: instance name clash)")) << log;
  EXPECT_FALSE(has(log, "restarting in")) << log;
  EXPECT_TRUE(stray.running()) << "the holder of the name is left alone";
}

// The same node name in another topology on the same directory is another instance: no clash,
// and its traffic does not keep brook up's drain waiting.
TEST_F(UpReport, TheSameNameInAnotherTopologyIsNoClash) {
  Cluster c;
  c.start_directory();
  c.write_topology(R"(
topology: up-other
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s}
channels: {work: {external: true}}
nodes:
  sink: {exec: brook-test-sink, inputs: {in: work}}
)",
                   "other.yaml");
  Process other = c.start_node("brook-test-sink", "sink", 0);
  c.write_topology(R"(
topology: up-mine
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s}
channels: {work: {}}
nodes:
  source: {exec: brook-test-source, job: true, restart: never, outputs: {out: work},
           params: {count: 300, rate: 1000}}
  sink: {exec: brook-test-sink, inputs: {in: work}}
)",
                   "mine.yaml");
  Process p = up_on(c);
  const auto code = p.wait(40s);
  ASSERT_TRUE(code.has_value()) << p.log();
  EXPECT_EQ(*code, 0) << p.log();
  EXPECT_FALSE(has(p.log(), "clash")) << p.log();
  EXPECT_TRUE(other.running());
  EXPECT_EQ(c.counter("sink", "work", &ChannelCounters::received), 0u)
      << "up-other's sink got up-mine's messages";
}

// A job topology whose worker dead-letters some messages ends non-zero and names them.
TEST_F(UpReport, AJobTopologyThatDeadLettersEndsNonZero) {
  topology(R"(
topology: up-dead
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s}
channels:
  work: {retry: {max_attempts: 2, initial: 10ms, max: 50ms}, dead_letter: work-dead}
  work-dead: {}
nodes:
  source: {exec: brook-test-source, job: true, restart: never, outputs: {out: work},
           params: {count: 500, rate: 1000}}
  worker: {exec: brook-test-sink, inputs: {in: work}, params: {fail_mod: 100}}
  graveyard: {exec: brook-test-sink, inputs: {in: work-dead}}
)");
  Process p = up({"--log-level", "warn"}, false);  // the report does not depend on the log
  const auto code = p.wait(60s);
  ASSERT_TRUE(code.has_value()) << p.log();
  EXPECT_EQ(*code, 1) << p.log();
  const std::string log = p.log();
  EXPECT_TRUE(has(log, "drained in")) << log;
  EXPECT_TRUE(has(log,
                  "worker.0: 5 message(s) from 'work' dead-lettered to 'work-dead' "
                  "(brook dead ls work-dead --topology " +
                      file_.string() + ")"))
      << log;
  EXPECT_TRUE(has(log, "finished with failures")) << log;
  EXPECT_TRUE(has(log, "0 killed, 5 message(s) dead-lettered, discarded or dropped")) << log;
}

// Without a dead-letter channel the failed messages are discarded: brook stats shows them per
// instance while it runs; a service topology (no job) reports them at the end, exit 0.
TEST_F(UpReport, FailedMessagesShowInStatsAndTheSummary) {
  topology(R"(
topology: up-failed
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s}
channels:
  work: {retry: {max_attempts: 2, initial: 10ms, max: 50ms}}
nodes:
  source: {exec: brook-test-source, outputs: {out: work}, params: {count: 300, rate: 1000}}
  worker: {exec: brook-test-sink, inputs: {in: work}, params: {fail_mod: 100}}
)");
  Process p = up();
  // worker.0's counters on `work`, from brook stats --json (null until it reported them).
  auto worker_counters = [&] {
    const auto r = run_command(
        {bin("brook"), "stats", "--directory", endpoint_, "--json", "--interval", "0"}, 10s);
    if (r.code != 0) return nlohmann::json();
    const nlohmann::json stats = nlohmann::json::parse(r.out);
    for (const auto& i : stats["instances"]) {
      if (i["name"] == "worker.0" && i["channels"].contains("work")) return i["channels"]["work"];
    }
    return nlohmann::json();
  };
  nlohmann::json worker;
  ASSERT_TRUE(wait_for(
      [&] {
        worker = worker_counters();
        return worker.is_object() && worker["received"].get<std::uint64_t>() >= 300 &&
               worker["failed"].get<std::uint64_t>() >= 3;
      },
      30s))
      << worker.dump() << "\n"
      << p.log();
  EXPECT_EQ(worker["failed"].get<std::uint64_t>(), 3u) << worker.dump();
  EXPECT_EQ(worker["handler_errors"].get<std::uint64_t>(), 6u) << worker.dump();
  EXPECT_EQ(worker["dead_lettered"].get<std::uint64_t>(), 0u) << worker.dump();
  const auto table = run_command(
      {bin("brook"), "stats", "--directory", endpoint_, "--once", "--interval", "0"}, 10s);
  EXPECT_TRUE(has(table.out, "ERRORS  FAILED    DEAD  DROPPED")) << table.out;
  EXPECT_EQ(p.stop(10s), 0) << p.log();
  EXPECT_TRUE(
      has(p.log(),
          "worker.0: 3 message(s) from 'work' failed or did not decode, and were discarded (the "
          "channel has no dead_letter channel)"))
      << p.log();
  EXPECT_TRUE(has(p.log(), "stopped cleanly")) << p.log();
}

// `brook up t.yaml | head -n 3`: once head exits, brook up stops the topology and exits 141.
TEST_F(UpReport, AClosedStdoutStopsTheTopology) {
  topology(R"(
topology: up-pipe
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s}
channels: {work: {}}
nodes:
  source: {exec: brook-test-source, outputs: {out: work}, params: {count: 100000000, rate: 100}}
  sink: {exec: brook-test-sink, replicas: 2, inputs: {in: work}}
)");
  const auto status = dir_ / "status";
  const auto err = dir_ / "up.err";
  const std::string script = "'" + bin("brook") + "' up '" + file_.string() + "' --quiet 2>'" +
                             err.string() + "' | head -n 3; echo ${PIPESTATUS[0]} >'" +
                             status.string() + "'";
  const auto r = run_command({"/bin/bash", "-c", script}, 30s);
  ASSERT_EQ(r.code, 0) << "brook up kept running after head exited\n" << r.describe();
  EXPECT_EQ(tail(status, 1), "141\n") << tail(err);
  EXPECT_TRUE(has(tail(err),
                  "brook up: stdout was closed (its reader exited): stopping the "
                  "topology"))
      << tail(err);
  EXPECT_TRUE(has(tail(err), "stdout was closed: exit 141")) << tail(err);
  EXPECT_TRUE(processes_of_topology().empty()) << tail(err);
}

// One stop delivered twice (GNU timeout signals brook up, then its process group) is one stop:
// the nodes stop cleanly instead of being killed as on a second Ctrl-C.
TEST_F(UpReport, OneStopSignalledTwiceIsNotASecondSignal) {
  const std::string yaml = R"(
topology: up-twice
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s}
channels: {work: {}}
nodes:
  source: {exec: brook-test-source, outputs: {out: work}, params: {count: 100000000, rate: 500}}
  sink: {exec: brook-test-sink, replicas: 2, inputs: {in: work}}
)";
  topology(yaml);
  Process p = up();
  p.signal(SIGTERM);
  ASSERT_TRUE(wait_for([&] { return has(p.log(), "got SIGTERM: stopping"); }, 10s)) << p.log();
  p.signal(SIGTERM);  // the same sender at once: timeout's kill of the group
  const auto code = p.wait(15s);
  ASSERT_TRUE(code.has_value()) << p.log();
  EXPECT_EQ(*code, 0) << p.log();
  EXPECT_FALSE(has(p.log(), "killed (second signal)")) << p.log();
  EXPECT_TRUE(has(p.log(), ": 0 restart(s), 0 failed, 0 killed")) << p.log();
  EXPECT_TRUE(has(p.log(), "stopped cleanly")) << p.log();

  topology(yaml);  // a fresh port: the first run's directory may linger in TIME_WAIT
  const auto r = run_command(
      {"/usr/bin/timeout", "-s", "TERM", "4", bin("brook"), "up", file_.string(), "--quiet"}, 30s);
  EXPECT_EQ(r.code, 124) << r.describe();  // timeout's "the command timed out"
  EXPECT_FALSE(has(r.out, "killed (second signal)")) << r.describe();
  EXPECT_TRUE(has(r.out, ": 0 restart(s), 0 failed, 0 killed")) << r.describe();
  EXPECT_TRUE(has(r.out, "stopped cleanly")) << r.describe();
  EXPECT_TRUE(processes_of_topology().empty()) << r.describe();
}

}  // namespace
}  // namespace brook::test
