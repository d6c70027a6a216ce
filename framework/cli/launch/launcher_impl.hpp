// The launcher's state, shared by launcher.cpp (start, supervision, stop) and operations.cpp
// (the control socket: status, rolling restart, scale, down). Private to the launcher.
#pragma once

#include <signal.h>
#include <sys/signalfd.h>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "directory/directory_client.hpp"
#include "launch/child_process.hpp"
#include "launch/console.hpp"
#include "launch/control_server.hpp"
#include "launch/drain_detector.hpp"
#include "launch/launcher.hpp"
#include "launch/loss_report.hpp"
#include "launch/node_command.hpp"
#include "launch/resolved_files.hpp"
#include "launch/run_dir.hpp"
#include "runtime/reactor.hpp"

namespace brook::launch {

using Clock = std::chrono::steady_clock;
using detail::Reactor;
using std::chrono::milliseconds;

inline std::int64_t ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<milliseconds>(b - a).count();
}

enum class ProcState { kIdle, kStarting, kRunning, kBackoff, kDone, kFailed };

struct Proc {
  std::string name;                // "basket.0", or "directory"
  const NodeSpec* spec = nullptr;  // null for the directory
  std::uint32_t instance = 0;
  std::size_t level = 0;
  ProcState state = ProcState::kIdle;
  ChildProcess child;
  bool alive = false;  // started and not yet reaped
  bool ready = false;
  bool stop_sent = false;
  int exit_status = 0;
  std::string out_buf;
  std::string ready_buf;
  Clock::time_point started{};
  std::deque<Clock::time_point> restarts;
  int backoff_step = 0;
  Reactor::ReaderId output_reader = 0;  // 0 once the pipe is closed
  Reactor::ReaderId ready_reader = 0;
  std::string endpoint;     // a directory's: where it binds
  std::vector<pid_t> pids;  // of every incarnation: their registrations are not a clash
  std::string clash;        // why it cannot register: another process holds its name
  ChannelTotals losses;     // from its STOPPED lines, summed over incarnations
  // An operation (brook restart, scale) is replacing or removing it: its exit is not the end of
  // the topology, and supervision leaves it to the operation.
  bool held = false;
  bool retired = false;  // removed by brook scale: no longer part of the launch
  int replaced = 0;      // incarnations started by brook restart

  bool job() const noexcept { return spec != nullptr && spec->job; }
};

// A brook restart or brook scale in progress (operations.cpp): one at a time, each a step machine
// advanced after every poll of the loop, so supervision goes on meanwhile.
struct Operation {
  enum class Kind { kRestart, kScaleUp, kScaleDown };
  Kind kind = Kind::kRestart;
  const NodeSpec* node = nullptr;
  int target = 0;                  // scale: the new replica count
  ControlServer::ConnId conn = 0;  // who asked: gets the progress and the result
  std::deque<Proc*> queue;         // restart: the instances still to replace, in order
  std::vector<Proc*> current;      // being stopped or started
  enum class Step { kBegin, kStopping, kStarting } step = Step::kBegin;
  Clock::time_point deadline{};
  bool killed = false;
  Clock::time_point began = Clock::now();
};

class Launcher::Impl {
 public:
  explicit Impl(LaunchOptions o)
      : o_(std::move(o)),
        t_(*o_.topology),
        console_(o_.status && o_.log_format != LogFormat::kJson, o_.color,
                 o_.log_format == LogFormat::kJson) {}

  int run();

 private:
  // ---- processes ----
  void start(Proc& p);
  SpawnSpec spawn_spec(const Proc& p) const;
  // The brook options a node instance is started with (its own `args` follow them).
  std::vector<std::string> node_args(const NodeSpec& spec, std::uint32_t instance) const;
  // Whether this launch runs that instance (--host keeps those placed on the host).
  bool runs_here(const NodeSpec& n, int instance) const;
  // What node_args() and spawn_spec() build the command lines from (shared with brook export).
  // `node`: its replica count as brook scale set it, when above the topology's.
  NodeCommandOptions command_options(const NodeSpec* node = nullptr) const;
  // Each instance's resolved document, from the options it is started with ($BROOK_RESOLVED).
  void write_resolved();
  // What each node of the topology file needs of it ($BROOK_TOPOLOGY_SCOPE), into scopes_.
  void index_scopes();
  void on_exit(Proc& p, int status);
  void schedule_restart(Proc& p, const std::string& why);
  void read_output(Proc& p, bool all);
  void read_ready(Proc& p);
  void close_output(Proc& p);
  void close_ready(Proc& p);
  void emit_lines(Proc& p, bool flush_partial);
  void read_signals();
  void reap();
  void stop_on_closed_stdout();
  // Another process registered under a name of ours (a stray `--instance` started by hand, a
  // second topology on the same directory): the node cannot register and ends with status 1.
  void watch_names();
  bool check_clash(Proc& p, const std::optional<ListReply>& list);
  int summarize();
  // Runs the loop (children's pipes, the signalfd, restart and status timers) until `done`, the
  // deadline or a signal.
  bool wait_until(Clock::time_point deadline, const std::function<bool()>& done);

  // ---- phases ----
  // Raises the open-file limit for the instances levels_ holds; throws Error when the hard limit
  // is too low for them.
  void raise_fd_limit() const;
  bool start_directories();
  bool start_nodes();
  void supervise();
  // One drain poll: true once drained or given up (then failed_).
  bool drain_over(DrainDetector& drain, Clock::time_point drain_started);
  void shutdown();
  void stop_group(std::vector<Proc*> group, Clock::time_point deadline);

  // ---- operating a running launch (operations.cpp) ----
  void open_run_dir();
  void on_request(ControlServer::ConnId conn, const nlohmann::json& request);
  nlohmann::json status_json() const;
  // Starts an operation or says why not; queued behind one in progress.
  void begin_operation(ControlServer::ConnId conn, const nlohmann::json& request);
  // Advances the operation in progress; when it ends, answers its client and takes the next.
  void advance_operation();
  bool advance(Operation& op);  // true when over (op_error_ set on failure)
  void end_operation(const std::string& error);
  void stop_for_operation(Operation& op, const std::vector<Proc*>& procs);
  bool stopped_for_operation(Operation& op);
  // The replica count the launch runs `n` with (brook scale changes it).
  int replicas_of(const NodeSpec& n) const;
  Proc& instance_proc(const NodeSpec& n, std::uint32_t instance);
  void write_resolved_one(const NodeSpec& n, std::uint32_t instance);
  void answer_down(int code);

  // ---- directory view ----
  std::optional<ListReply> poll_directory();
  void update_status(const std::optional<ListReply>& list);

  bool jobs_done() const;
  bool job_failed() const;
  bool all_finished() const;
  // Every directory the nodes use: --directory, else the topology's endpoints.
  std::vector<std::string> directory_endpoints() const;
  // The same, comma-separated, as BROOK_DIRECTORY and the tools' --directory take it.
  std::string directory_endpoint() const;
  std::string directory_name(std::size_t i) const;

  LaunchOptions o_;
  const Topology& t_;
  Console console_;
  std::vector<std::vector<const NodeSpec*>> levels_;
  std::deque<Proc> procs_;  // stable addresses
  std::vector<Proc*> directories_;
  Reactor reactor_;
  int signal_fd_ = -1;
  int signals_ = 0;  // SIGINT/SIGTERM received (a closed stdout counts as the first)
  signalfd_siginfo first_signal_{};
  Clock::time_point first_signal_at_{};
  bool stdout_closed_ = false;
  Reactor::ReaderId stdout_watch_ = 0;
  std::string host_;
  bool stopping_ = false;
  bool reap_due_ = true;  // a child may have exited: waitpid() after this poll
  bool failed_ = false;
  int total_restarts_ = 0;
  int killed_ = 0;  // processes that had to be SIGKILLed at shutdown
  Clock::time_point began_ = Clock::now();
  std::unique_ptr<DirectoryClient> dir_client_;
  std::optional<Security> dir_security_;  // the cli key, loaded at the first poll
  std::optional<ListReply> last_list_;
  Clock::time_point last_list_at_{};
  std::optional<ResolvedFiles> resolved_;
  std::map<std::string, std::string> scopes_;  // by node name

  // Operating a running launch: the run directory, its control socket and the instance logs.
  std::unique_ptr<InstanceLogs> logs_;
  std::unique_ptr<ControlServer> control_;
  std::map<const NodeSpec*, int> scaled_;  // replica counts brook scale set
  std::deque<Operation> operations_;       // the first is in progress
  Reactor::SourceId operation_source_ = 0;
  std::string op_error_;
  bool started_ = false;
  int tee_fd_ = -1;                               // every node was started: operations may begin
  std::vector<ControlServer::ConnId> listeners_;  // get the launcher's lines as they are said
  std::vector<ControlServer::ConnId> down_;       // brook down: get the exit status at the end
};

}  // namespace brook::launch
