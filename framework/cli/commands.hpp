// The subcommands of `brook`; each lives in commands/<name>.cpp and returns an exit code.
#pragma once

#include "cli_common.hpp"

namespace brook::cli {

int run_up(const Args& args);
int run_check(const Args& args);
int run_status(const Args& args);  // status, logs, restart, scale, down: commands/operate.cpp
int run_logs(const Args& args);
int run_restart(const Args& args);
int run_scale(const Args& args);
int run_down(const Args& args);
int run_graph(const Args& args);
int run_ls(const Args& args);
int run_stats(const Args& args);
int run_tap(const Args& args);
int run_send(const Args& args);
int run_trace(const Args& args);
int run_call(const Args& args);
int run_dead(const Args& args);
int run_keygen(const Args& args);
int run_resolve(const Args& args);
int run_export(const Args& args);
int run_record(const Args& args);
int run_replay(const Args& args);

}  // namespace brook::cli
