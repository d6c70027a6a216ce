// The node's state store in the loop (docs/reliability.md, "Exactly-once effects"). With a store,
// a loop pass is a transaction: the handler calls' state changes, the inbox records of the
// at-least-once messages they handled and the outbox marks of what they emitted commit together
// (what they emitted is journaled just before), and only then do the outputs leave and the
// acknowledgements go back. A crash before the commit leaves nothing behind: the next
// incarnation discards the journal records beyond the marks and the producers re-send the
// unacknowledged inputs. A crash after it loses nothing: the journal re-sends the outputs and
// the inbox recognises the re-sent inputs.
#include <brook/error.hpp>
#include <brook/log.hpp>
#include <map>

#include "runtime/node_runtime.hpp"
#include "runtime/socket_setup.hpp"

namespace brook {

namespace {
constexpr std::size_t kMaxStateName = 128;

// The store syncs like the strictest of the node's journals, so outputs and state survive the
// same crashes.
FsyncPolicy strictest_fsync(const NodeSpec& spec) {
  FsyncPolicy f = FsyncPolicy::kBatch;
  bool any = false;
  for (const auto& port : spec.outputs) {
    if (!port.durable) continue;
    if (!any || port.fsync == FsyncPolicy::kAlways ||
        (port.fsync == FsyncPolicy::kBatch && f == FsyncPolicy::kNever)) {
      f = port.fsync;
    }
    any = true;
  }
  return f;
}
}  // namespace

std::filesystem::path NodeRuntime::state_file() const {
  return topology_.state_dir / topology_.name / instance_name_ / "state.sqlite";
}

detail::StateTable& NodeRuntime::state_table(std::string_view name) {
  check_loop_thread("state()");
  if (name.empty() || name.size() > kMaxStateName) {
    throw ConfigError("state name '" + std::string(name.substr(0, kMaxStateName)) +
                      "...': a name is 1 to " + std::to_string(kMaxStateName) + " characters");
  }
  if (!state_) {
    if (running_) throw ConfigError("node.state() must be called before run()");
    if (options_.observer) throw ConfigError("an observer (brook tap) keeps no state");
    // A commit acknowledges its inputs: what they caused must survive in a journal.
    for (const auto& out : outputs_) {
      if (out->port().starts_with("~dead-letter:")) continue;  // chained, see dispatch()
      if (!out->channel().reliable() || out->durable()) continue;
      const PortSpec* port = spec_->output(out->port());
      throw ConfigError("node '" + spec_->name + "' keeps state (node.state(\"" +
                        std::string(name) + "\")), so what it emits on at-least-once channels " +
                        "must be durable: output port '" + out->port() + "' (channel '" +
                        out->channel().name + "') is not; set `durable: true` on it" +
                        (port != nullptr ? " (" + port->where.str() + ")" : std::string()));
    }
    open_state_store();
  }
  state_used_ = true;
  return state_->table(name);
}

void NodeRuntime::retire_unused_state_store() {
  if (!state_ || state_used_) return;
  // Opened at start only to settle the last incarnation's journals. Run without it: its passes
  // would acknowledge inputs at commit while an output without a journal still holds what they
  // emitted. Without outbox marks, a later incarnation that uses state again takes the journals
  // as committed.
  BROOK_LOG(kInfo) << "state store " << state_->file().string()
                   << " is not used by this program; running without it";
  state_->forget_output_marks();
  state_.reset();
}

void NodeRuntime::open_state_store() {
  state_ = std::make_unique<detail::StateStore>(state_file(), strictest_fsync(*spec_));
  for (auto& in : inputs_) {
    if (in->acknowledges()) in->seed_handled(state_->handled(in->channel().name));
  }
  for (auto& out : outputs_) {
    if (detail::OutputJournal* j = out->journal()) adopt_journal(out->port(), *j);
  }
}

void NodeRuntime::adopt_journal(const std::string& port, detail::OutputJournal& journal) {
  const std::optional<std::uint64_t> mark = state_->output_mark(port);
  if (!mark) {
    // Everything the journal holds was accepted before the node kept state: committed.
    state_->set_output_mark(port, journal.next_seq());
    state_->commit();
    return;
  }
  if (journal.next_seq() > *mark) {
    BROOK_LOG(kInfo) << "journal of port '" << port << "': messages from " << *mark
                     << " on were emitted by handler calls an earlier incarnation never "
                        "committed; discarding them (their inputs are re-sent)";
    journal.discard_from(*mark);
  } else if (journal.next_seq() < *mark) {
    BROOK_LOG(kError) << "journal of port '" << port << "' ends at " << journal.next_seq()
                      << " but the state store committed messages up to " << *mark
                      << ": the journal lost its end (a machine crash with fsync batch or never?)"
                      << "; those messages are lost";
    // Consumers may have seen those numbers: new messages must not look like their re-sends.
    journal.skip_to(*mark);
  }
}

bool NodeRuntime::pass_open() const noexcept {
  return state_ && (state_->in_transaction() || !pass_output_.empty() || !pass_input_.empty());
}

void NodeRuntime::hold_for_commit(detail::Receiver& in, const EnvelopeView& env,
                                  const std::string& peer) {
  // Deferred: a re-send arriving before the commit is neither handled again nor acknowledged.
  in.settle(env.id, peer, detail::Receiver::Settle::kDefer);
  pass_input_.push_back(Uncommitted{&in, peer, std::string(env.id.producer), env.id.seq});
}

void NodeRuntime::commit_pass() {
  // Not in the middle of a handler call (a `block` emit runs control passes).
  if (handling_ != nullptr || !pass_open()) return;
  try {
    for (std::size_t output = 0; output < outputs_.size(); ++output) {
      detail::OutputJournal* j = outputs_[output]->journal();
      if (j == nullptr) continue;
      journal_batch_.clear();
      for (const auto& s : pass_output_) {
        if (s.output == output)
          journal_batch_.push_back({s.seq, s.key_hash, detail::bytes_of(s.msg)});
      }
      if (journal_batch_.empty()) continue;
      j->append_batch(journal_batch_);
      state_->set_output_mark(outputs_[output]->port(), j->next_seq());
    }
    for (const auto& u : pass_input_) {
      state_->record_handled(u.in->channel().name, u.producer, u.seq,
                             detail::dedupe_window_size(u.in->channel()));
    }
    state_->commit();
  } catch (const std::exception& e) {
    abort_pass(e.what());
    return;
  }
  for (auto& s : pass_output_)
    deliver(s.output, s.msg, s.seq, s.key_hash, nullptr, true, std::move(s.on_acknowledged));
  for (const auto& u : pass_input_)
    u.in->release(u.peer, u.producer, u.seq);
  pass_output_.clear();
  pass_input_.clear();
  pass_callback_emits_ = 0;
}

void NodeRuntime::abort_pass(const std::string& why) {
  state_->rollback();
  std::map<std::size_t, std::uint64_t> first;  // per output, the pass's first number
  for (const auto& s : pass_output_) {
    auto [it, fresh] = first.emplace(s.output, s.seq);
    if (!fresh) it->second = std::min(it->second, s.seq);
  }
  for (const auto& [output, seq] : first) {
    auto& out = *outputs_[output];
    if (detail::OutputJournal* j = out.journal()) {
      try {
        j->discard_from(seq);
      } catch (const std::exception& e) {
        BROOK_LOG(kError) << e.what();
      }
    }
    out.rewind_seq(seq);
  }
  for (const auto& u : pass_input_) {
    u.in->give_back(MessageId{u.producer, u.seq}, u.peer);
    ++u.in->counters().declined;
  }
  std::uint64_t suppressed = 0;
  if (commit_log_.allow(suppressed)) {
    BROOK_LOG(kWarn) << "could not commit the state store (" << why << "): undid "
                     << pass_input_.size() << " handled messages (their producers re-send them)"
                     << " and " << pass_output_.size() << " emitted ones (" << pass_callback_emits_
                     << " of them by timers or callbacks, which are lost)"
                     << (suppressed ? " (" + std::to_string(suppressed) + " more not logged)"
                                    : std::string());
  }
  pass_output_.clear();
  pass_input_.clear();
  pass_callback_emits_ = 0;
}

}  // namespace brook
