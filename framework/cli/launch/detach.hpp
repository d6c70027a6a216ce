// `brook up -d`: the launcher goes to the background once everything is ready.
#pragma once

#include <optional>
#include <string>

#include "launch/run_dir.hpp"

namespace brook::launch {

// Forks the daemon (fork, setsid, fork: no controlling terminal, not a session leader, adopted
// by init) with stdin /dev/null, stdout and stderr appended to the run directory's brook.log and
// BROOK_READY_FD a pipe to the caller. In the daemon returns nullopt: run the launcher there. In
// the caller, waits for that pipe: the READY line (printed with the run directory, and passed on
// to the caller's own BROOK_READY_FD) gives 0 when every instance is ready; end of file (the
// start failed) gives 1 after printing brook.log's last lines to stderr. Call before any thread
// exists.
std::optional<int> detach(RunDir& dir, const std::string& topology);

}  // namespace brook::launch
