#include "launch/launcher.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <brook/error.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include "cli_common.hpp"
#include "directory/directory_client.hpp"
#include "launch/child_process.hpp"
#include "launch/console.hpp"
#include "launch/drain_detector.hpp"
#include "launch/launch_plan.hpp"
#include "launch/launcher_impl.hpp"
#include "launch/loss_report.hpp"
#include "launch/node_command.hpp"
#include "launch/resolved_files.hpp"
#include "resolved_view.hpp"
#include "runtime/node_engine.hpp"
#include "runtime/reactor.hpp"
#include "topology/scope.hpp"
#include "util/fd_limit.hpp"
#include "util/lifecycle.hpp"
#include "util/sd_notify.hpp"

namespace brook::launch {

namespace {

constexpr std::size_t kMaxLine = 64 * 1024;
constexpr milliseconds kStatusPeriod{1000};
constexpr milliseconds kDrainPoll{250};
constexpr milliseconds kNameCheck{1000};
constexpr milliseconds kReapPeriod{1000};
// GNU timeout (and anything else that signals a process and then its process group) delivers
// one stop twice, microseconds apart: the same signal from the same sender this soon after the
// first is that stop again, not the second one that kills at once.
constexpr milliseconds kSameStop{500};
// Exit status when stdout was closed (`brook up t.yaml | head`): what a shell reports for a
// program killed by SIGPIPE.
constexpr int kExitStdoutClosed = 128 + SIGPIPE;

// Instances starting at once (started, not ready yet). A starting node is busy on the CPU for a
// few milliseconds (exec, loading, sockets), then waits for the directory. Started all at once,
// 1,000 nodes on 2 cores left the directory so little CPU that it accepted and answered too late:
// nodes timed out, reconnected and registered again, and were not all ready after 60 s. The
// window leaves CPU to the directory and the nodes already up, and is wide enough that the
// waits on the directory overlap.
std::size_t start_window() {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  return std::max<std::size_t>(16, 8 * std::size_t{cores});
}

}  // namespace

// ---- processes ------------------------------------------------------------------------------

std::vector<std::string> Launcher::Impl::node_args(const NodeSpec& spec,
                                                   std::uint32_t instance) const {
  return launch::node_args(spec, instance, command_options(&spec));
}

NodeCommandOptions Launcher::Impl::command_options(const NodeSpec* node) const {
  NodeCommandOptions c;
  c.topology = t_.file;
  c.log_level = o_.log_level;
  // Said on every command line: the topology's log.format would otherwise win over the
  // launcher's --log-format (and BROOK_LOG_FORMAT) in the node.
  c.log_format = o_.log_format == LogFormat::kJson ? "json" : "plain";
  if (o_.directory) c.directory.push_back(*o_.directory);
  c.advertise = o_.advertise;
  c.bind = o_.bind;
  c.overrides = o_.overrides;
  if (node != nullptr) {
    // Instances beyond the topology's replicas are out of range for the node (and the resolved
    // document) unless told the count the launch runs.
    if (auto it = scaled_.find(node); it != scaled_.end() && it->second > node->replicas)
      c.overrides.push_back("nodes." + node->name + ".replicas=" + std::to_string(it->second));
  }
  return c;
}

bool Launcher::Impl::runs_here(const NodeSpec& n, int instance) const {
  if (!o_.host) return true;
  const std::string* h = n.host_of(instance);
  return h != nullptr && *h == *o_.host;
}

void Launcher::Impl::write_resolved() {
  resolved_.emplace();
  std::optional<Topology> topology;        // as the nodes load it: the same file and overrides
  std::optional<cli::ChannelUsers> users;  // who writes and reads each channel, found once
  for (const auto& level : levels_) {
    for (const NodeSpec* n : level) {
      // A node's instances differ only in --instance: its command line is parsed once.
      std::optional<NodeOptions> options;
      const NodeSpec* spec = nullptr;
      for (int i = 0; i < n->replicas; ++i) {
        if (!runs_here(*n, i)) continue;
        const auto instance = static_cast<std::uint32_t>(i);
        if (!options) {
          std::vector<std::string> argv = node_args(*n, instance);
          argv.insert(argv.begin(), n->exec_path.string());
          options = cli::node_options(argv);
          if (!topology) {
            topology = detail::load_node_topology(*options);
            users.emplace(*topology);
          }
          spec = &detail::node_instance_spec(*topology, *options);
        }
        options->instance = instance;  // below replicas: the loop's bound is the same count
        resolved_->write(n->name, instance,
                         cli::resolved_view(*topology, *spec, *options, &*users));
      }
    }
  }
}

void Launcher::Impl::write_resolved_one(const NodeSpec& n, std::uint32_t instance) {
  if (!resolved_) return;
  std::vector<std::string> argv = node_args(n, instance);
  argv.insert(argv.begin(), n.exec_path.string());
  const NodeOptions options = cli::node_options(argv);
  const Topology topology = detail::load_node_topology(options);
  const NodeSpec& spec = detail::node_instance_spec(topology, options);
  resolved_->write(n.name, instance, cli::resolved_view(topology, spec, options));
}

void Launcher::Impl::index_scopes() {
  if (t_.file.empty()) return;
  std::ifstream in(t_.file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) return;  // the nodes will say what is wrong with it
  if (const auto index = detail::index_scope(text.str()))
    scopes_ = detail::scope_values(t_, *index);
}

SpawnSpec Launcher::Impl::spawn_spec(const Proc& p) const {
  SpawnSpec s;
  if (p.spec == nullptr) {
    s.program = o_.directory_program;
    s.args = directory_args(command_options(), p.endpoint,
                            o_.directories.empty() || p.endpoint == o_.directories.front());
  } else {
    s.program = p.spec->exec_path;
    s.args = node_command_args(*p.spec, p.instance, command_options(p.spec));
    s.env = p.spec->env;
    if (resolved_) s.env["BROOK_RESOLVED"] = resolved_->path(p.spec->name, p.instance).string();
    // Each node parses only what it needs of a large topology (topology/scope.hpp); empty: the
    // whole file, whatever the launcher's own environment says.
    const auto scope = scopes_.find(p.spec->name);
    s.env[detail::kTopologyScopeEnv] = scope == scopes_.end() ? "" : scope->second;
  }
  // Under systemd, brook up is the service's main process: its children's notifications would
  // be refused (NotifyAccess=main), and an empty variable turns them off.
  s.env[kNotifySocketEnv] = "";
  return s;
}

void Launcher::Impl::start(Proc& p) {
  try {
    p.child = ChildProcess::spawn(spawn_spec(p));
  } catch (const Error& e) {
    console_.say(p.name + ": cannot start: " + e.what());
    p.state = ProcState::kFailed;
    failed_ = true;
    return;
  }
  p.alive = true;
  p.pids.push_back(p.child.pid());
  p.ready = false;
  p.stop_sent = false;
  p.out_buf.clear();
  p.ready_buf.clear();
  p.started = Clock::now();
  p.state = ProcState::kStarting;
  p.output_reader = reactor_.add_fd(p.child.output_fd(), ZMQ_POLLIN,
                                    [this, &p](short) { read_output(p, false); });
  p.ready_reader =
      reactor_.add_fd(p.child.ready_fd(), ZMQ_POLLIN, [this, &p](short) { read_ready(p); });
}

void Launcher::Impl::emit_lines(Proc& p, bool flush_partial) {
  std::size_t start = 0;
  for (;;) {
    const auto nl = p.out_buf.find('\n', start);
    if (nl == std::string::npos) break;
    const std::string_view line = std::string_view(p.out_buf).substr(start, nl - start);
    console_.child_line(p.name, line);
    if (logs_) logs_->line(p.name, line);
    start = nl + 1;
  }
  p.out_buf.erase(0, start);
  if ((flush_partial && !p.out_buf.empty()) || p.out_buf.size() >= kMaxLine) {
    console_.child_line(p.name, p.out_buf);
    if (logs_) logs_->line(p.name, p.out_buf);
    p.out_buf.clear();
  }
}

void Launcher::Impl::read_output(Proc& p, bool all) {
  char buf[16384];
  for (int rounds = 0; p.child.output_fd() >= 0 && (all || rounds < 4); ++rounds) {
    const ssize_t n = ::read(p.child.output_fd(), buf, sizeof buf);
    if (n > 0) {
      p.out_buf.append(buf, static_cast<std::size_t>(n));
      emit_lines(p, false);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    close_output(p);  // EOF: every holder of the write end exited
    reap_due_ = true;
    emit_lines(p, true);
  }
}

void Launcher::Impl::close_output(Proc& p) {
  reactor_.remove(p.output_reader);
  p.output_reader = 0;
  p.child.close_output();
}

void Launcher::Impl::close_ready(Proc& p) {
  reactor_.remove(p.ready_reader);
  p.ready_reader = 0;
  p.child.close_ready();
}

void Launcher::Impl::read_ready(Proc& p) {
  char buf[512];
  for (;;) {
    const ssize_t n = ::read(p.child.ready_fd(), buf, sizeof buf);
    if (n > 0) {
      p.ready_buf.append(buf, static_cast<std::size_t>(n));
      if (p.ready_buf.size() > 4096) p.ready_buf.resize(4096);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    break;
  }
  close_ready(p);
  if (p.ready_buf.rfind("READY", 0) == 0 && p.alive) {
    p.ready = true;
    if (p.state == ProcState::kStarting) p.state = ProcState::kRunning;
    if (p.restarts.empty() || p.spec == nullptr) return;
    console_.say(p.name + " is back (ready " + std::to_string(ms_between(p.started, Clock::now())) +
                 " ms after restart)");
  }
}

void Launcher::Impl::reap() {
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    for (auto& p : procs_) {
      if (p.alive && p.child.pid() == pid) {
        on_exit(p, status);
        break;
      }
    }
  }
}

void Launcher::Impl::on_exit(Proc& p, int status) {
  read_output(p, true);
  if (p.child.ready_fd() >= 0) read_ready(p);
  // What a grandchild still holding the write end writes later is not read.
  close_output(p);
  close_ready(p);
  add_stop_report(p.child.take_report(), p.losses);
  p.child = ChildProcess();
  p.alive = false;
  p.exit_status = status;
  const std::string how = describe_status(status);
  const bool clean = exited_cleanly(status);

  if (stopping_ || p.stop_sent) {
    p.state = ProcState::kDone;
    if (!clean && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
      console_.say(p.name + " stopped with " + how);
    }
    return;
  }
  if (p.spec == nullptr && !p.ready) {
    p.state = ProcState::kFailed;  // it never started: restarting would fail the same way
    console_.say("the directory exited at start (" + how + ")");
    return;
  }
  if (p.spec == nullptr) {
    schedule_restart(p, "the directory exited (" + how +
                            "); channels keep flowing, nodes re-register when it is back");
    return;
  }
  // A node whose name stays taken exits 1 (runtime.md). A restart would meet the same holder:
  // it already waited for it over three leases.
  if (WIFEXITED(status) && WEXITSTATUS(status) == 1 &&
      (!p.clash.empty() || check_clash(p, poll_directory()))) {
    p.state = ProcState::kFailed;
    failed_ = true;
    console_.say(p.name + " failed (" + how + "): " + p.clash +
                 "; not restarted: give each process its own --instance, or stop the other one");
    return;
  }
  const RestartPolicy policy = p.spec->restart.policy;
  if (clean && p.job()) {
    p.state = ProcState::kDone;
    console_.say(p.name + " finished (job, exit 0) after " +
                 std::to_string(ms_between(p.started, Clock::now())) + " ms");
    return;
  }
  if (clean && policy != RestartPolicy::kAlways) {
    p.state = ProcState::kDone;
    console_.say(p.name + " exited (exit 0); not restarted (restart: " +
                 std::string(to_string(policy)) + ")");
    return;
  }
  if (policy == RestartPolicy::kNever) {
    p.state = ProcState::kFailed;
    failed_ = true;
    console_.say(p.name + " failed (" + how + "); not restarted (restart: never)");
    return;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == cli::kExitUsage) {
    // Nodes exit 2 for configuration errors (a port without handler, a bad param, a topology
    // error): deterministic, so a restart would fail the same way.
    p.state = ProcState::kFailed;
    failed_ = true;
    console_.say(p.name + " failed with a configuration error (exit 2, see its output above); " +
                 "not restarted: fix it and run brook up again");
    return;
  }
  schedule_restart(p, p.name + " " + (clean ? "exited (exit 0)" : "failed (" + how + ")"));
}

void Launcher::Impl::schedule_restart(Proc& p, const std::string& why) {
  const auto now = Clock::now();
  const RestartSpec rs = p.spec != nullptr ? p.spec->restart : RestartSpec{};
  while (!p.restarts.empty() && now - p.restarts.front() > rs.window)
    p.restarts.pop_front();
  if (p.spec != nullptr && static_cast<int>(p.restarts.size()) >= rs.max_restarts) {
    p.state = ProcState::kFailed;
    failed_ = true;
    console_.say(why + "; giving up after " + std::to_string(p.restarts.size()) +
                 " restarts within " + std::to_string(rs.window.count()) + " ms");
    return;
  }
  // A process that ran well past the longest backoff was healthy: start the backoff over.
  if (now - p.started > 2 * rs.backoff_max + std::chrono::seconds(5)) p.backoff_step = 0;
  auto delay = rs.backoff_initial;
  for (int i = 0; i < p.backoff_step && delay < rs.backoff_max; ++i)
    delay *= 2;
  delay = std::min(delay, rs.backoff_max);
  ++p.backoff_step;
  p.restarts.push_back(now);
  p.state = ProcState::kBackoff;
  reactor_.add_timer(now + delay, milliseconds(0), false, [this, &p] {
    if (p.state == ProcState::kBackoff && !stopping_) start(p);  // shutdown() cancels backoffs
  });
  ++total_restarts_;
  console_.say(why + "; restarting in " + std::to_string(delay.count()) + " ms (restart " +
               std::to_string(p.restarts.size()) +
               (p.spec != nullptr ? "/" + std::to_string(rs.max_restarts) : std::string()) + ")");
}

void Launcher::Impl::read_signals() {
  signalfd_siginfo si;
  while (::read(signal_fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    if (si.ssi_signo == SIGCHLD) reap_due_ = true;  // reaped after this poll
    if (si.ssi_signo != SIGINT && si.ssi_signo != SIGTERM) continue;
    const auto now = Clock::now();
    if (signals_ > 0 && first_signal_.ssi_signo == si.ssi_signo &&
        first_signal_.ssi_pid == si.ssi_pid && now - first_signal_at_ < kSameStop) {
      continue;
    }
    if (++signals_ == 1) {
      first_signal_ = si;
      first_signal_at_ = now;
      console_.say(std::string("got ") + (si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM") +
                   ": stopping (again to kill at once)");
    }
  }
}

void Launcher::Impl::stop_on_closed_stdout() {
  if (stdout_closed_ || !console_.stdout_closed()) return;
  stdout_closed_ = true;
  if (stdout_watch_ != 0) reactor_.remove(std::exchange(stdout_watch_, 0));
  // Whoever read our output is gone (`brook up t.yaml | head`): stop as on SIGTERM. Our own
  // lines go to stderr from now on.
  if (signals_ == 0) {
    signals_ = 1;
    first_signal_at_ = Clock::now();
    console_.say("stdout was closed (its reader exited): stopping the topology");
  }
}

bool Launcher::Impl::check_clash(Proc& p, const std::optional<ListReply>& list) {
  if (!list || p.spec == nullptr) return !p.clash.empty();
  for (const auto& i : list->instances) {
    if (i.node != p.spec->name || i.instance != p.instance) continue;
    const bool ours = i.host == host_ && std::find(p.pids.begin(), p.pids.end(),
                                                   static_cast<pid_t>(i.pid)) != p.pids.end();
    if (ours) {
      p.clash.clear();
      return false;
    }
    p.clash = "instance name clash: " + p.name + " is registered at " + directory_endpoint() +
              " by another process (pid " + std::to_string(i.pid) + " on " + i.host + ")";
    return true;
  }
  return !p.clash.empty();
}

void Launcher::Impl::watch_names() {
  if (std::none_of(procs_.begin(), procs_.end(),
                   [](const Proc& p) { return p.spec != nullptr && p.alive && !p.ready; })) {
    return;  // a node that became ready registered: only one still starting can be kept out
  }
  const auto list = poll_directory();
  for (auto& p : procs_) {
    if (p.spec == nullptr || !p.alive || p.ready) continue;
    const bool known = !p.clash.empty();
    if (check_clash(p, list) && !known) {
      console_.say(p.name + " cannot register: " + p.clash +
                   "; it ends unless that process stops within three leases");
    }
  }
}

bool Launcher::Impl::wait_until(Clock::time_point deadline, const std::function<bool()>& done) {
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    if (signals_ > 0 && !stopping_) return false;
    if (signals_ > 1) return false;
    reactor_.run_once(deadline);
  }
  return true;
}

// ---- phases -----------------------------------------------------------------------------------

std::vector<std::string> Launcher::Impl::directory_endpoints() const {
  if (o_.directory) return {*o_.directory};
  if (t_.directory.endpoints.empty()) return {"tcp://127.0.0.1:5670"};
  return t_.directory.endpoints;
}

std::string Launcher::Impl::directory_endpoint() const {
  std::string out;
  for (const auto& ep : directory_endpoints())
    out += (out.empty() ? "" : ",") + ep;
  return out;
}

bool Launcher::Impl::start_directories() {
  for (std::size_t i = 0; i < o_.directories.size(); ++i) {
    procs_.push_back(Proc{});
    Proc& d = procs_.back();
    d.name = directory_name(i);
    d.endpoint = o_.directories[i];
    directories_.push_back(&d);
    start(d);
  }
  const bool ok = wait_until(Clock::now() + std::chrono::seconds(10), [&] {
    return std::all_of(directories_.begin(), directories_.end(),
                       [](const Proc* d) { return d->ready || !d->alive; });
  });
  for (const Proc* d : directories_) {
    if (ok && d->ready) continue;
    if (signals_ == 0) {
      console_.say(d->name + " did not start (see its output above); is " + d->endpoint +
                   " already in use? Another `brook up` of this topology may be running: stop it, "
                   "or change directory.endpoints (or pass --directory to use a running one)");
    }
    return false;
  }
  // A directory that dies later is restarted without limit: it holds only soft state.
  return true;
}

std::string Launcher::Impl::directory_name(std::size_t i) const {
  return o_.directories.size() == 1 ? "directory" : "directory." + std::to_string(i);
}

bool Launcher::Impl::start_nodes() {
  // Not level by level: a producer does not wait for other producers' consumers, so starts
  // overlap and one slow node holds back only what is upstream of it.
  std::vector<StartStep> pending = start_plan(t_, levels_);
  std::map<const NodeSpec*, std::vector<Proc*>> instances;
  std::map<const NodeSpec*, Clock::time_point> give_up_at;  // its ready_timeout + 5 s
  std::set<const NodeSpec*> warned;
  std::map<const NodeSpec*, int> next_replica;  // the next of a node's replicas to start
  auto settled = [&](const NodeSpec* n) {
    auto it = instances.find(n);
    const auto next = next_replica.find(n);
    return it != instances.end() && next != next_replica.end() && next->second >= n->replicas &&
           std::all_of(it->second.begin(), it->second.end(), [](const Proc* p) {
             return p->ready || p->state == ProcState::kDone || p->state == ProcState::kFailed;
           });
  };
  auto given_up = [&](const NodeSpec* n, Clock::time_point now) {
    auto it = give_up_at.find(n);
    return it != give_up_at.end() && now >= it->second;
  };
  auto warn_not_ready = [&](const NodeSpec* n) {
    if (settled(n) || !warned.insert(n).second) return;
    for (const Proc* p : instances[n]) {
      if (!p->ready && p->alive)
        console_.say(p->name + " is not ready yet; starting the rest anyway");
    }
  };
  auto can_start = [&](const StartStep& p, Clock::time_point now) {
    return std::all_of(p.waits_for.begin(), p.waits_for.end(),
                       [&](const NodeSpec* w) { return settled(w) || given_up(w, now); });
  };
  // Instances started and not ready yet, short of their node's give-up time.
  const std::size_t window = start_window();
  auto starting = [&](Clock::time_point now) {
    std::size_t n = 0;
    for (const auto& [spec, procs] : instances) {
      if (given_up(spec, now)) continue;
      for (const Proc* p : procs) {
        n += !p->ready && p->state != ProcState::kDone && p->state != ProcState::kFailed ? 1 : 0;
      }
    }
    return n;
  };

  while (!pending.empty()) {
    const auto now = Clock::now();
    std::vector<Proc*> group;
    std::string names;
    std::size_t room = window - std::min(window, starting(now));
    for (auto it = pending.begin(); it != pending.end() && room > 0;) {
      if (!can_start(*it, now)) {
        ++it;
        continue;
      }
      for (const NodeSpec* w : it->waits_for)
        warn_not_ready(w);
      const NodeSpec* n = it->node;
      int here = 0;
      int& i = next_replica[n];
      for (; i < n->replicas && room > 0; ++i) {
        if (!runs_here(*n, i)) continue;
        procs_.push_back(Proc{});
        Proc& p = procs_.back();
        p.spec = n;
        p.instance = static_cast<std::uint32_t>(i);
        p.level = it->level;
        p.name = n->name + "." + std::to_string(i);
        group.push_back(&p);
        instances[n].push_back(&p);
        ++here;
        --room;
      }
      if (here > 0) {
        names +=
            (names.empty() ? "" : ", ") + n->name + (here > 1 ? " x" + std::to_string(here) : "");
      }
      give_up_at[n] = now + n->ready_timeout + std::chrono::seconds(5);
      if (i < n->replicas) break;  // the window is full: the rest of its replicas come next
      it = pending.erase(it);
    }
    if (!group.empty()) {
      console_.say("starting " + names);
      for (Proc* p : group)
        start(*p);
      continue;
    }
    // Woken by a node that becomes ready or whose give-up time comes: either may let a waiting
    // node start, or free room in the window.
    auto deadline = Clock::time_point::max();
    for (const auto& [spec, at] : give_up_at) {
      if (at > now) deadline = std::min(deadline, at);
    }
    wait_until(deadline, [&] {
      const auto t = Clock::now();
      return starting(t) < window &&
             std::any_of(pending.begin(), pending.end(),
                         [&](const StartStep& p) { return can_start(p, t); });
    });
    if (signals_ > 0) return false;
  }

  // The topology is up when every instance is ready (or finished, or given up on).
  auto deadline = Clock::now();
  for (const auto& [n, at] : give_up_at)
    deadline = std::max(deadline, at);
  wait_until(deadline, [&] {
    const auto t = Clock::now();
    return std::all_of(instances.begin(), instances.end(),
                       [&](const auto& kv) { return settled(kv.first) || given_up(kv.first, t); });
  });
  if (signals_ > 0) return false;
  for (const auto& level : levels_) {
    for (const NodeSpec* n : level)
      warn_not_ready(n);
  }
  return true;
}

bool Launcher::Impl::jobs_done() const {
  bool any = false;
  for (const auto& p : procs_) {
    if (!p.job()) continue;
    any = true;
    if (p.state != ProcState::kDone) return false;
  }
  return any;
}

bool Launcher::Impl::job_failed() const {
  return std::any_of(procs_.begin(), procs_.end(),
                     [](const Proc& p) { return p.job() && p.state == ProcState::kFailed; });
}

bool Launcher::Impl::all_finished() const {
  return std::all_of(procs_.begin(), procs_.end(), [](const Proc& p) {
    return p.spec == nullptr ||
           (!p.held && (p.state == ProcState::kDone || p.state == ProcState::kFailed));
  });
}

std::optional<ListReply> Launcher::Impl::poll_directory() {
  try {
    if (!dir_client_) {
      // With CURVE the launcher reads the directory as the command line tools do, with the cli
      // key; without it (removed from the allowlist) only drain detection is lost.
      if (!dir_security_) dir_security_ = Security::load(t_.security, std::string(kCliIdentity));
      // Every directory of the topology, in order: with redundant directories one that is
      // down must not blind drain detection, clash checks or the status. The client asks the
      // one that answered last first, so a dead one costs its timeout once, not every poll.
      dir_client_ = std::make_unique<DirectoryClient>(directory_endpoints(), milliseconds(500),
                                                      *dir_security_);
    }
    ListReply list = dir_client_->list();
    // A directory may serve other topologies too: their instances are none of our business
    // (same names are no clash, their traffic no sign of ours draining).
    std::erase_if(list.instances, [&](const InstanceInfo& i) { return i.topology != t_.name; });
    return list;
  } catch (const Error&) {
    return std::nullopt;  // the client reconnected: the directories may be restarting
  }
}

void Launcher::Impl::update_status(const std::optional<ListReply>& list) {
  const auto now = Clock::now();
  std::vector<std::string> lines;
  const double dt = last_list_ ? std::chrono::duration<double>(now - last_list_at_).count() : 0;
  for (const auto& n : t_.nodes) {
    if (!o_.only.empty() && !o_.only.count(n.name)) continue;
    int up = 0;
    int here = 0;
    int restarts = 0;
    for (const auto& p : procs_) {
      if (p.spec != &n || p.retired) continue;
      ++here;
      up += p.alive && p.ready ? 1 : 0;
      restarts += static_cast<int>(p.restarts.size());
    }
    ChannelCounters cur;
    ChannelCounters prev;
    auto sum = [&](const ListReply& l, ChannelCounters& into) {
      for (const auto& i : l.instances)
        if (i.node == n.name) into += i.counters.total();
    };
    if (list) sum(*list, cur);
    if (last_list_) sum(*last_list_, prev);
    auto rate = [&](std::uint64_t a, std::uint64_t b) {
      return dt > 0 && b >= a ? static_cast<double>(b - a) / dt : 0.0;
    };
    char buf[256];
    std::snprintf(
        buf, sizeof buf, "%-14s %d/%d up  in %8.0f/s  out %8.0f/s  errors %llu  restarts %d",
        n.name.c_str(), up, here, rate(prev.received, cur.received),
        rate(prev.emitted, cur.emitted),
        static_cast<unsigned long long>(cur.decode_errors + cur.handler_errors), restarts);
    lines.emplace_back(buf);
  }
  console_.set_status(std::move(lines));
  if (list) {
    last_list_ = list;
    last_list_at_ = now;
  }
}

void Launcher::Impl::supervise() {
  const TimerId status = o_.status ? reactor_.add_timer(Clock::now(), kStatusPeriod, true,
                                                        [this] { update_status(poll_directory()); })
                                   : 0;
  std::optional<DrainDetector> drain;
  TimerId drain_poll = 0;
  bool drained = false;  // or given up
  for (;;) {
    if (signals_ > 0 || drained) break;
    if (job_failed()) {
      console_.say("a job failed: stopping the topology");
      break;
    }
    if (all_finished()) {
      console_.say("every node has exited: stopping");
      break;
    }
    if (!drain && jobs_done()) {
      const milliseconds quiet = 2 * t_.directory.heartbeat + milliseconds(300);
      drain.emplace(quiet, channels_downstream_of_jobs(t_));
      const auto drain_started = Clock::now();
      console_.say(
          "all jobs finished; waiting for the pipeline to drain (no pending messages and "
          "no counter moving for " +
          std::to_string(quiet.count()) + " ms)");
      drain_poll = reactor_.add_timer(drain_started, kDrainPoll, true, [&, drain_started] {
        drained = drained || drain_over(*drain, drain_started);
      });
    }
    reactor_.run_once(Clock::time_point::max());
  }
  reactor_.cancel_timer(status);
  reactor_.cancel_timer(drain_poll);
}

bool Launcher::Impl::drain_over(DrainDetector& drain, Clock::time_point drain_started) {
  const auto now = Clock::now();
  const auto list = poll_directory();
  if (list && drain.observe(*list, now)) {
    console_.say("drained in " + std::to_string(ms_between(drain_started, now)) + " ms");
    return true;
  }
  if (now - drain_started > o_.drain_limit) {
    console_.say("gave up waiting for the drain after " + std::to_string(o_.drain_limit.count()) +
                 " ms (" + std::to_string(drain.pending()) + " messages pending); stopping");
    failed_ = true;
    return true;
  }
  return false;
}

void Launcher::Impl::stop_group(std::vector<Proc*> group, Clock::time_point deadline) {
  for (Proc* p : group) {
    if (p->alive) {
      p->stop_sent = true;
      p->child.signal(SIGTERM);
    }
  }
  auto alive = [&] {
    return std::none_of(group.begin(), group.end(), [](const Proc* p) { return p->alive; });
  };
  wait_until(deadline, alive);
  for (Proc* p : group) {
    if (p->alive) {
      console_.say(p->name +
                   (signals_ > 1 ? " killed (second signal)" : " did not stop in time: SIGKILL"));
      p->child.signal(SIGKILL);
      ++killed_;
    }
  }
  wait_until(Clock::now() + milliseconds(500), alive);
}

void Launcher::Impl::shutdown() {
  stopping_ = true;
  console_.clear_status();
  const auto now = Clock::now();
  const auto global_deadline = now + o_.stop_limit;
  for (auto& p : procs_) {
    if (p.state == ProcState::kBackoff) p.state = ProcState::kDone;
  }
  // Producers first: the highest level writes to the lower ones.
  for (std::size_t level = levels_.size(); level-- > 0;) {
    std::vector<Proc*> group;
    milliseconds drain{0};
    for (auto& p : procs_) {
      if (p.spec != nullptr && p.level == level && p.alive) {
        group.push_back(&p);
        drain = std::max(drain, p.spec->drain_timeout);
      }
    }
    if (group.empty()) continue;
    // A second signal: stop_group's deadline is now, so it kills at once.
    const auto deadline =
        signals_ > 1 ? Clock::now()
                     : std::min(global_deadline, Clock::now() + drain + milliseconds(2000));
    stop_group(group, deadline);
  }
  std::vector<Proc*> directories;
  for (Proc* d : directories_) {
    if (d->alive) directories.push_back(d);
  }
  if (!directories.empty()) {
    // Long enough for a directory paused a moment (a stalled VM, a debugger, scripts/chaos's
    // SIGSTOP of up to 3 s) to answer SIGTERM; a hung one is killed, losing nothing (no data).
    stop_group(directories, signals_ > 1 ? Clock::now() : Clock::now() + milliseconds(4000));
  }
}

void Launcher::Impl::raise_fd_limit() const {
  std::uint64_t instances = 0;
  for (const auto& level : levels_) {
    for (const NodeSpec* n : level) {
      for (int i = 0; i < n->replicas; ++i)
        instances += runs_here(*n, i) ? 1 : 0;
    }
  }
  // Each child's output, READY and stop-report pipes, its log file in a run directory, and a
  // margin for the rest (the directories, the control socket, the directory client).
  const std::uint64_t wanted = (o_.run_dir ? 4 : 3) * instances + 64;
  const detail::FdLimit limit = detail::raise_fd_limit(wanted);
  if (limit.soft >= wanted || limit.soft == 0) return;
  throw Error("cannot start " + std::to_string(instances) + " instance(s): brook up needs " +
              std::to_string(wanted) + " open files for them, and the hard limit is " +
              std::to_string(limit.hard) +
              " (raise it: ulimit -Hn as root, LimitNOFILE= in a systemd unit, nofile in "
              "/etc/security/limits.conf; or start fewer replicas)");
}

int Launcher::Impl::run() {
  levels_ = start_levels(t_, o_.only);
  if (o_.host) {  // a host may run none of a selected node's instances, or none at all
    for (auto& level : levels_) {
      std::erase_if(level, [&](const NodeSpec* n) {
        for (int i = 0; i < n->replicas; ++i) {
          if (runs_here(*n, i)) return false;
        }
        return true;
      });
    }
  }
  // Before anything starts: a launch that cannot hold its children's pipes says so now.
  raise_fd_limit();
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGCHLD);
  sigset_t old;
  ::sigprocmask(SIG_BLOCK, &mask, &old);
  signal_fd_ = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) throw Error(std::string("signalfd: ") + std::strerror(errno));
  // With SIGINT and SIGTERM blocked, so that a stop cannot leave the files behind: `resolved_`
  // removes them when the launcher goes, whichever way run() ends.
  write_resolved();
  index_scopes();
  ::signal(SIGPIPE, SIG_IGN);
  if (o_.run_dir) {
    open_run_dir();
    // In the foreground the terminal shows the output; brook.log keeps it for brook logs.
    if (!o_.detached) {
      tee_fd_ = ::open(o_.run_dir->launcher_log().c_str(),
                       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      console_.set_tee(tee_fd_);
    }
  }
  const auto signals = reactor_.add_fd(signal_fd_, ZMQ_POLLIN, [this](short) { read_signals(); });
  // After a poll that read a SIGCHLD or the end of a child's output, not after every poll: each
  // waitpid() looks at every child, a thousand of them while they start. A thread that does not
  // block SIGCHLD could take one, and a grandchild may keep a pipe open: a timer reaps too.
  const auto reaper = reactor_.add_source([] { return Clock::time_point::max(); },
                                          [this](Clock::time_point) {
                                            if (std::exchange(reap_due_, false)) reap();
                                            stop_on_closed_stdout();
                                          });
  const TimerId reap_timer = reactor_.add_timer(Clock::now() + kReapPeriod, kReapPeriod, true,
                                                [this] { reap_due_ = true; });
  // A pipe's write end reports an error once its reader closed it: notice that even while
  // nothing is printed. (Not a terminal or file: those would always poll readable.)
  struct stat out {};
  if (::fstat(STDOUT_FILENO, &out) == 0 && (S_ISFIFO(out.st_mode) || S_ISSOCK(out.st_mode))) {
    stdout_watch_ = reactor_.add_fd(STDOUT_FILENO, ZMQ_POLLIN, [this](short) {
      console_.mark_stdout_closed();
      stop_on_closed_stdout();
    });
  }
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  host_ = host;
  const TimerId names =
      reactor_.add_timer(Clock::now() + kNameCheck, kNameCheck, true, [this] { watch_names(); });

  for (std::size_t i = 0; i < o_.directories.size(); ++i)
    console_.reserve_name(directory_name(i));
  int instances = 0;
  for (const auto& level : levels_) {
    for (const NodeSpec* n : level) {
      for (int i = 0; i < n->replicas; ++i) {
        if (!runs_here(*n, i)) continue;
        ++instances;
        console_.reserve_name(n->name + "." + std::to_string(i));
      }
    }
  }
  console_.say("topology '" + t_.name + "' (" + t_.file.string() +
               "): " + std::to_string(instances) + " instance(s), directory " +
               directory_endpoint() + (o_.directories.empty() ? " (external)" : "") +
               (o_.host ? ", host " + *o_.host : ""));
  // The tools look for the directory at $BROOK_DIRECTORY, else on 5670: say how to reach this
  // one when that would miss it, and point the nodes' own children (scripts, tools) at it.
  const char* env = std::getenv("BROOK_DIRECTORY");
  if (directory_endpoint() != (env != nullptr && *env != '\0' ? env : "tcp://127.0.0.1:5670")) {
    console_.say("tools: brook ls -t " + t_.file.string() +
                 " (or export BROOK_DIRECTORY=" + directory_endpoint() + ")");
  }
  ::setenv("BROOK_DIRECTORY", directory_endpoint().c_str(), 1);

  bool started = true;
  if (!o_.directories.empty()) started = start_directories();
  if (started && start_nodes()) {
    int ready = 0;
    for (const auto& p : procs_)
      ready += p.spec != nullptr && p.ready ? 1 : 0;
    console_.say(std::to_string(ready) + "/" + std::to_string(instances) +
                 " instance(s) ready in " + std::to_string(ms_between(began_, Clock::now())) +
                 " ms" +
                 (jobs_done() || std::none_of(procs_.begin(), procs_.end(),
                                              [](const Proc& p) { return p.job(); })
                      ? "; Ctrl-C to stop"
                      : "; running until the jobs finish (Ctrl-C to stop)"));
    // Whoever started `brook up` with BROOK_READY_FD (a test, a supervisor) may go on now.
    started_ = true;
    notify_ready("directory=" + directory_endpoint() + " instances=" + std::to_string(ready) + "/" +
                 std::to_string(instances) +
                 (o_.run_dir ? " run_dir=" + o_.run_dir->path().string() : std::string()));
    supervise();
  } else if (signals_ == 0) {
    failed_ = true;
  }
  reactor_.cancel_timer(names);
  shutdown();
  console_.clear_status();
  const int code = summarize();
  answer_down(code);
  if (operation_source_ != 0) reactor_.remove_source(operation_source_);
  control_.reset();  // the socket goes before the pid file: a tool sees the launch gone
  if (tee_fd_ >= 0) ::close(tee_fd_);
  reactor_.cancel_timer(reap_timer);
  reactor_.remove_source(reaper);
  if (stdout_watch_ != 0) reactor_.remove(stdout_watch_);
  reactor_.remove(signals);
  ::close(signal_fd_);
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  return code;
}

int Launcher::Impl::summarize() {
  std::string failed;
  int failed_count = 0;
  for (const auto& p : procs_) {
    if (p.state != ProcState::kFailed) continue;
    failed += (failed_count++ == 0 ? " (" : ", ") + p.name +
              (p.clash.empty() ? std::string() : ": instance name clash");
  }
  if (failed_count > 0) failed += ")";
  std::uint64_t undelivered = 0;
  for (const auto& p : procs_) {
    for (const auto& line : describe_losses(p.name, p.losses, t_))
      console_.say(line);
    for (const auto& [channel, c] : p.losses) {
      const std::uint64_t f = failed_for_good(c);
      undelivered += std::max(f, c.dead_lettered) + c.dropped;
    }
  }
  // A job topology ran to the end: a message it did not deliver is a failed run, as a failed
  // job is. A service topology ran until stopped; its losses are reported, not judged.
  const bool has_jobs =
      std::any_of(t_.nodes.begin(), t_.nodes.end(), [](const NodeSpec& n) { return n.job; });
  if (undelivered > 0 && has_jobs) failed_ = true;
  // A process that had to be killed did not stop cleanly (and may have lost what it held).
  if (killed_ > 0) failed_ = true;
  console_.say(std::string(failed_ ? "finished with failures" : "stopped cleanly") + " after " +
               std::to_string(ms_between(began_, Clock::now())) + " ms: " +
               std::to_string(total_restarts_) + " restart(s), " + std::to_string(failed_count) +
               " failed" + failed + ", " + std::to_string(killed_) + " killed" +
               (undelivered > 0 ? ", " + std::to_string(undelivered) +
                                      " message(s) dead-lettered, discarded or dropped"
                                : std::string()) +
               (stdout_closed_ ? "; stdout was closed: exit " + std::to_string(kExitStdoutClosed)
                               : std::string()));
  if (stdout_closed_) return kExitStdoutClosed;
  return failed_ ? 1 : 0;
}

Launcher::Launcher(LaunchOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Launcher::~Launcher() = default;
int Launcher::run() {
  return impl_->run();
}

}  // namespace brook::launch
