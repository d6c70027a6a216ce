// `brook up`: runs a topology's directory and every replica of its nodes as child processes.
//
// Start: the directories first (unless external), then each node once the nodes reading its outputs
// reported READY, exited for good or had their ready timeout + 5 s (start_plan in
// launch_plan.hpp): consumers start before producers, but not level by level, so one slow node
// holds back only what is upstream of it. Running: child output is prefixed with
// "node.instance |"; exits are handled by each node's restart policy with exponential backoff;
// the directory is restarted whenever it dies (it is soft state). End: on SIGINT/SIGTERM, or when
// every job finished and the pipeline drained (drain_detector.hpp), nodes are stopped level by
// level, producers first, each level with SIGTERM and, past its bound, SIGKILL. A closed stdout
// (`brook up t.yaml | head`) stops it as SIGTERM does. The end summary names failed instances
// (an instance whose name another process holds: a name clash) and the messages each instance
// reported dead-lettered, discarded or dropped when it stopped (loss_report.hpp).
//
// Single-threaded: run() blocks and owns every child; its loop is a detail::Reactor over the
// children's pipes and a signalfd. Signals SIGINT, SIGTERM and SIGCHLD are blocked for the
// calling thread and read from that signalfd while run() executes.
#pragma once

#include <brook/topology.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "launch/run_dir.hpp"

namespace brook::launch {

struct LaunchOptions {
  std::shared_ptr<const Topology> topology;
  std::vector<std::string> overrides;  // --set values, passed on to every node
  std::set<std::string> only;          // nodes to run; empty = all
  // Run only the instances the topology places on this host (`hosts:`), advertising its
  // address and binding its bind address.
  std::optional<std::string> host;
  std::optional<std::string> directory;  // use this running directory instead of starting one
  // The directories to start, by endpoint (each a brook-directory bound there); empty: none.
  std::vector<std::string> directories;
  std::filesystem::path directory_program;  // brook-directory
  std::string log_level = "info";           // passed to nodes
  // json: nodes and directories log JSON lines, passed through as they are (the launcher's own
  // lines are JSON too); text: they log plain lines the launcher prefixes with their name.
  LogFormat log_format = LogFormat::kText;
  std::optional<std::string> advertise;  // --advertise for nodes (multi-host runs)
  std::optional<std::string> bind;       // --bind for nodes
  bool status = false;                   // live status block (terminal, not --quiet)
  bool color = false;
  // After the jobs finished: give up waiting for the pipeline to drain after this long.
  std::chrono::milliseconds drain_limit{60'000};
  // Bound on stopping the nodes; past it every remaining one is killed. The directory gets
  // 1 s more and each kill 0.5 s to be reaped, so the whole stop stays under 10 s.
  std::chrono::milliseconds stop_limit{7'000};
  // The run directory (run_dir.hpp), held (locked) by the caller: with it the launcher serves the
  // control socket there and writes each instance's output to its log file. Without it, neither.
  std::shared_ptr<RunDir> run_dir;
  // Detached (brook up -d): stdout is the run directory's brook.log already, so the console's
  // lines are not copied there again.
  bool detached = false;
};

class Launcher {
 public:
  explicit Launcher(LaunchOptions options);
  ~Launcher();
  Launcher(const Launcher&) = delete;
  Launcher& operator=(const Launcher&) = delete;

  // Runs until stopped; returns 0 when nothing failed; 1 when a node failed or gave up, a
  // process had to be killed, or a job topology dead-lettered, discarded or dropped messages;
  // 141 (128 + SIGPIPE) when it stopped because stdout was closed.
  int run();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace brook::launch
