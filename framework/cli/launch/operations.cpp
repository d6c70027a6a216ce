// Operating a running launch through its control socket: status, rolling restart, scale, down.
//
// Restart replaces a node's instances one at a time: SIGTERM (the node tells its producers to
// send it nothing new, settles what it holds and leaves: runtime.md#shutdown), then a new process
// under the same instance, and the next only once that one is READY, so at most one replica is
// missing at any time and nothing is re-sent or lost. Scale up starts the new instances (READY
// before the operation ends; producers see them once they register); scale down stops the
// highest instances the same draining way. Instances beyond the topology's replicas get
// `--set nodes.N.replicas=COUNT`, so the node accepts its instance number.
#include <unistd.h>

#include <algorithm>
#include <brook/error.hpp>
#include <tuple>

#include "launch/launcher_impl.hpp"

namespace brook::launch {

namespace {

using nlohmann::json;

// A stopping instance gets its drain_timeout and 2 s more before SIGKILL, as at shutdown.
constexpr milliseconds kStopGrace{2000};
constexpr milliseconds kKillReap{500};
constexpr milliseconds kReadyGrace{5000};

const char* state_name(const Proc& p) {
  if (p.held) return "replacing";
  if (p.alive && p.stop_sent) return "stopping";
  switch (p.state) {
    case ProcState::kIdle:
      return "idle";
    case ProcState::kStarting:
      return "starting";
    case ProcState::kRunning:
      return "up";
    case ProcState::kBackoff:
      return "restarting";
    case ProcState::kDone:
      return p.job() ? "finished" : "exited";
    case ProcState::kFailed:
      return "failed";
  }
  return "?";
}

}  // namespace

void Launcher::Impl::open_run_dir() {
  logs_ = std::make_unique<InstanceLogs>(*o_.run_dir);
  control_ = std::make_unique<ControlServer>(
      reactor_, o_.run_dir->control_socket(),
      [this](ControlServer::ConnId c, const json& r) { on_request(c, r); });
  console_.set_listener([this](std::string_view line) {
    for (const auto c : listeners_)
      control_->send(c, {{"say", line}});
  });
  operation_source_ = reactor_.add_source(
      [this] {
        return operations_.empty() ? Clock::time_point::max() : operations_.front().deadline;
      },
      [this](Clock::time_point) { advance_operation(); });
}

int Launcher::Impl::replicas_of(const NodeSpec& n) const {
  const auto it = scaled_.find(&n);
  return it != scaled_.end() ? it->second : n.replicas;
}

Proc& Launcher::Impl::instance_proc(const NodeSpec& n, std::uint32_t instance) {
  for (auto& p : procs_) {
    if (p.spec == &n && p.instance == instance) return p;
  }
  procs_.push_back(Proc{});
  Proc& p = procs_.back();
  p.spec = &n;
  p.instance = instance;
  p.name = n.name + "." + std::to_string(instance);
  p.retired = true;  // until started
  for (std::size_t l = 0; l < levels_.size(); ++l) {
    if (std::find(levels_[l].begin(), levels_[l].end(), &n) != levels_[l].end()) p.level = l;
  }
  console_.reserve_name(p.name);
  return p;
}

json Launcher::Impl::status_json() const {
  const auto now = Clock::now();
  json instances = json::array();
  bool all_up = true;
  for (const auto& p : procs_) {
    if (p.retired) continue;
    const bool up = (p.alive && p.ready) || (p.job() && p.state == ProcState::kDone);
    all_up = all_up && up;
    instances.push_back({{"name", p.name},
                         {"node", p.spec != nullptr ? p.spec->name : "directory"},
                         {"instance", p.instance},
                         {"pid", p.alive ? p.child.pid() : 0},
                         {"state", state_name(p)},
                         {"ready", p.alive && p.ready},
                         {"restarts", static_cast<int>(p.pids.size()) - 1 - p.replaced},
                         {"replaced", p.replaced},
                         {"uptime_ms", p.alive ? ms_between(p.started, now) : 0}});
  }
  // The directory first, then by node and instance (scaled instances were added last).
  std::stable_sort(instances.begin(), instances.end(), [](const json& a, const json& b) {
    const auto key = [](const json& j) {
      return std::make_tuple(j["node"] != "directory", j["node"].get<std::string>(),
                             j["instance"].get<std::uint32_t>());
    };
    return key(a) < key(b);
  });
  json nodes = json::object();
  for (const auto& level : levels_) {
    for (const NodeSpec* n : level)
      nodes[n->name] = replicas_of(*n);
  }
  return {{"topology", t_.name},
          {"file", t_.file.string()},
          {"pid", ::getpid()},
          {"uptime_ms", ms_between(began_, now)},
          {"directory", directory_endpoint()},
          {"run_dir", o_.run_dir->path().string()},
          {"stopping", stopping_ || signals_ > 0},
          {"replicas", nodes},
          {"instances", instances},
          {"up", all_up}};
}

void Launcher::Impl::on_request(ControlServer::ConnId conn, const json& request) {
  const std::string op = request.value("op", "");
  if (op == "status") {
    control_->send(conn, status_json());
    control_->finish(conn);
    return;
  }
  if (op == "down") {
    down_.push_back(conn);
    listeners_.push_back(conn);
    if (signals_ == 0) {
      signals_ = 1;  // as SIGTERM: supervision ends and shutdown() stops everything in order
      first_signal_at_ = Clock::now();
      console_.say("brook down: stopping");
    }
    return;
  }
  if (op == "restart" || op == "scale") {
    begin_operation(conn, request);
    return;
  }
  control_->send(conn, {{"error", "unknown operation '" + op + "'"}});
  control_->finish(conn);
}

void Launcher::Impl::begin_operation(ControlServer::ConnId conn, const json& request) {
  auto refuse = [&](const std::string& why) {
    control_->send(conn, {{"error", why}});
    control_->finish(conn);
  };
  if (stopping_ || signals_ > 0) return refuse("the launch is stopping");
  if (!started_) return refuse("the launch is still starting; try again once it is ready");
  const std::string name = request.value("node", "");
  const NodeSpec* n = t_.node(name);
  bool here = false;
  for (const auto& level : levels_)
    here = here || std::find(level.begin(), level.end(), n) != level.end();
  if (n == nullptr || !here) {
    std::string names;
    for (const auto& level : levels_) {
      for (const NodeSpec* x : level)
        names += (names.empty() ? "" : ", ") + x->name;
    }
    return refuse("no node '" + name + "' in this launch (nodes: " + names + ")");
  }
  Operation op;
  op.node = n;
  op.conn = conn;
  if (request.value("op", "") == "restart") {
    op.kind = Operation::Kind::kRestart;
  } else {
    op.kind = Operation::Kind::kScaleUp;  // or down: advance() compares with the count it has
    op.target = request.value("replicas", 0);
    if (op.target < 1) return refuse("a node keeps at least 1 replica");
    if (o_.host) {
      return refuse("scaling a topology with hosts: is not supported: its hosts list places " +
                    std::string("each replica (change hosts and replicas in the file)"));
    }
    if (t_.security.mechanism == Mechanism::kCurve && op.target > n->replicas) {
      return refuse("with security: curve the directory admits only the " +
                    std::to_string(n->replicas) + " replica(s) the topology declares for '" +
                    n->name + "' (" + n->where.str() +
                    "): raise replicas there (or --set at brook up) to scale beyond");
    }
    if (op.target > n->replicas) {
      // What the node will load: the topology with this count must be valid (order_by checks).
      LoadOptions lo;
      lo.overrides = o_.overrides;
      lo.overrides.push_back("nodes." + n->name + ".replicas=" + std::to_string(op.target));
      lo.resolve_execs = false;
      try {
        (void)load_topology(t_.file, lo);
      } catch (const Error& e) {
        return refuse(std::string("the topology is not valid with ") + std::to_string(op.target) +
                      " replicas of '" + n->name + "': " + e.what());
      }
    }
  }
  operations_.push_back(std::move(op));
  if (operations_.size() > 1) {
    control_->send(conn, {{"say", "waiting for the operation in progress"}});
    return;
  }
  advance_operation();
}

void Launcher::Impl::advance_operation() {
  while (!operations_.empty()) {
    Operation& op = operations_.front();
    if (stopping_ || signals_ > 0) {
      end_operation("the launch is stopping");
      continue;
    }
    op_error_.clear();
    if (!advance(op)) return;
    end_operation(op_error_);
  }
}

void Launcher::Impl::end_operation(const std::string& error) {
  Operation& op = operations_.front();
  for (Proc* p : op.current)
    p->held = false;
  std::erase(listeners_, op.conn);
  const auto took = ms_between(op.began, Clock::now());
  if (error.empty()) {
    control_->send(op.conn, {{"ok", true}, {"ms", took}});
  } else {
    console_.say(op.node->name + ": " + error);
    control_->send(op.conn, {{"ok", false}, {"error", error}, {"ms", took}});
  }
  control_->finish(op.conn);
  operations_.pop_front();
}

void Launcher::Impl::stop_for_operation(Operation& op, const std::vector<Proc*>& procs) {
  op.current = procs;
  op.killed = false;
  op.step = Operation::Step::kStopping;
  op.deadline = Clock::now() + op.node->drain_timeout + kStopGrace;
  for (Proc* p : procs) {
    p->held = true;
    if (p->state == ProcState::kBackoff) p->state = ProcState::kDone;  // cancels its restart
    if (!p->alive) continue;
    p->stop_sent = true;
    p->child.signal(SIGTERM);
  }
}

bool Launcher::Impl::stopped_for_operation(Operation& op) {
  const bool all_gone =
      std::none_of(op.current.begin(), op.current.end(), [](const Proc* p) { return p->alive; });
  if (all_gone) return true;
  if (Clock::now() < op.deadline) return false;
  for (Proc* p : op.current) {
    if (!p->alive) continue;
    if (!op.killed) console_.say(p->name + " did not stop in time: SIGKILL");
    p->child.signal(SIGKILL);
  }
  op.killed = true;
  op.deadline = Clock::now() + kKillReap;
  return false;
}

bool Launcher::Impl::advance(Operation& op) {
  using Step = Operation::Step;
  using Kind = Operation::Kind;
  const NodeSpec& n = *op.node;
  const auto now = Clock::now();
  if (op.step == Step::kBegin) {
    listeners_.push_back(op.conn);
    const int have = replicas_of(n);
    if (op.kind == Kind::kRestart) {
      for (auto& p : procs_) {
        if (p.spec == &n && !p.retired) op.queue.push_back(&p);
      }
      console_.say("restarting " + n.name + " (" + std::to_string(have) +
                   " instance(s), one at a time)");
    } else if (op.target == have) {
      console_.say(n.name + " already has " + std::to_string(have) + " replica(s)");
      return true;
    } else if (op.target > have) {
      op.kind = Kind::kScaleUp;
      scaled_[&n] = op.target;  // before the new instances are spawned: their --set
      std::vector<Proc*> fresh;
      for (int i = have; i < op.target; ++i) {
        Proc& p = instance_proc(n, static_cast<std::uint32_t>(i));
        p.retired = false;
        p.restarts.clear();
        p.backoff_step = 0;
        p.state = ProcState::kIdle;
        write_resolved_one(n, p.instance);
        fresh.push_back(&p);
      }
      console_.say("scaling " + n.name + " from " + std::to_string(have) + " to " +
                   std::to_string(op.target) + ": starting " + std::to_string(op.target - have) +
                   " instance(s)");
      op.current = fresh;
      for (Proc* p : fresh) {
        p->held = true;
        start(*p);
      }
      op.step = Step::kStarting;
      op.deadline = now + n.ready_timeout + kReadyGrace;
    } else {
      op.kind = Kind::kScaleDown;
      std::vector<Proc*> going;
      for (int i = have - 1; i >= op.target; --i)
        going.push_back(&instance_proc(n, static_cast<std::uint32_t>(i)));
      console_.say("scaling " + n.name + " from " + std::to_string(have) + " to " +
                   std::to_string(op.target) + ": draining and stopping " +
                   std::to_string(have - op.target) + " instance(s)");
      stop_for_operation(op, going);
    }
  }

  if (op.kind == Kind::kScaleDown) {
    if (!stopped_for_operation(op)) return false;
    for (Proc* p : op.current) {
      p->retired = true;
      p->held = false;
      p->state = ProcState::kDone;
    }
    op.current.clear();
    if (op.target == n.replicas) {
      scaled_.erase(&n);
    } else {
      scaled_[&n] = op.target;
    }
    console_.say(n.name + " scaled to " + std::to_string(op.target) + " replica(s)");
    return true;
  }

  if (op.kind == Kind::kScaleUp) {
    for (Proc* p : op.current) {
      if (!p->alive && !p->ready) {
        op_error_ = p->name + " exited while starting (" + describe_status(p->exit_status) +
                    "; brook logs " + p->name + ")";
        return true;
      }
    }
    if (std::all_of(op.current.begin(), op.current.end(), [](const Proc* p) { return p->ready; })) {
      console_.say(n.name + " scaled to " + std::to_string(op.target) + " replica(s), ready in " +
                   std::to_string(ms_between(op.began, now)) + " ms");
      return true;
    }
    if (now >= op.deadline) {
      op_error_ = "not every new instance of " + n.name + " was ready within " +
                  std::to_string((n.ready_timeout + kReadyGrace).count()) +
                  " ms; they keep running (brook status, brook logs " + n.name + ")";
      return true;
    }
    return false;
  }

  // Rolling restart: one instance at a time, stopped (drained), started, ready.
  for (;;) {
    if (op.step == Step::kBegin) {
      if (op.queue.empty()) {
        console_.say(n.name + " restarted in " + std::to_string(ms_between(op.began, now)) + " ms");
        return true;
      }
      Proc* p = op.queue.front();
      op.queue.pop_front();
      console_.say("restart: stopping " + p->name + " (it drains first)");
      stop_for_operation(op, {p});
    }
    Proc* p = op.current.front();
    if (op.step == Step::kStopping) {
      if (!stopped_for_operation(op)) return false;
      ++p->replaced;
      p->restarts.clear();
      p->backoff_step = 0;
      start(*p);
      if (p->state == ProcState::kFailed) {
        op_error_ = p->name + " could not be started again";
        return true;
      }
      op.step = Step::kStarting;
      op.deadline = Clock::now() + n.ready_timeout + kReadyGrace;
      return false;
    }
    // kStarting
    if (p->ready) {
      console_.say("restart: " + p->name + " is ready (" +
                   std::to_string(ms_between(p->started, now)) + " ms)");
      p->held = false;
      op.current.clear();
      op.step = Step::kBegin;
      continue;
    }
    if (!p->alive) {
      op_error_ = p->name + " exited while starting (" + describe_status(p->exit_status) +
                  "); the rest of " + n.name + " was not restarted (brook logs " + p->name + ")";
      return true;
    }
    if (now >= op.deadline) {
      op_error_ = p->name + " was not ready within " +
                  std::to_string((n.ready_timeout + kReadyGrace).count()) + " ms; the rest of " +
                  n.name + " was not restarted";
      return true;
    }
    return false;
  }
}

void Launcher::Impl::answer_down(int code) {
  if (!control_) return;
  for (const auto c : down_) {
    control_->send(c, {{"exit", code}});
    control_->finish(c);
  }
  down_.clear();
  listeners_.clear();
}

}  // namespace brook::launch
