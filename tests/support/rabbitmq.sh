#!/usr/bin/env bash
# A private RabbitMQ node for tests and scripts/bench (`kill`: a crash, and a start
# that reuses the data dir and epmd it left), Debian's rabbitmq-server, no plugins, every listener
# on 127.0.0.1 only: AMQP on PORT, Erlang distribution on DIST_PORT, and an epmd of its own on
# EPMD_PORT (so nothing listens on 4369 or on all interfaces). Unless given, DIST_PORT and
# EPMD_PORT are the first ports above PORT that nothing listens on. Node name, Mnesia, logs, pid files
# and the Erlang cookie ($HOME) all live under DIR. Not the system service.
#   tests/support/rabbitmq.sh start DIR PORT [DIST_PORT [EPMD_PORT]]
#       returns once the node answers the AMQP handshake; exit 1 with the log tail if not in 60 s
#   tests/support/rabbitmq.sh stop DIR   stops the node and its epmd, waits for them to exit
#   tests/support/rabbitmq.sh kill DIR   SIGKILLs the node (epmd stays): start DIR PORT again
#                                        brings it back with its queues and persistent messages
# The node's ports and name are kept in DIR, so a start after kill reuses them.
set -euo pipefail

usage() { echo "usage: $0 start DIR PORT [DIST_PORT [EPMD_PORT]] | stop DIR | kill DIR" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
cmd=$1 dir=$(realpath -m -- "$2")  # absolute: the server runs elsewhere
server=/usr/lib/rabbitmq/bin/rabbitmq-server  # not /usr/sbin's wrapper: that one su's to rabbitmq

# The Debian packages enable system services; where systemd runs they would hold ports and CPU.
quiet_system_services() {
  command -v systemctl >/dev/null || return 0
  local unit
  for unit in rabbitmq-server epmd.socket epmd; do
    if systemctl is-active --quiet "$unit" 2>/dev/null; then
      systemctl stop "$unit" || true
      systemctl disable "$unit" 2>/dev/null || true
    fi
  done
}

# A zombie counts as gone: where PID 1 does not reap, kill -0 would succeed on it forever.
alive() {
  [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]
}

listens() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The first port above $1 that nothing listens on, skipping the ports given after it.
port_after() {
  local p=$1 taken=" ${*:2} "
  while ((++p < 65536)); do
    [[ $taken == *" $p "* ]] || listens "$p" || { echo "$p"; return 0; }
  done
  return 1
}

# True once the broker answers an AMQP 0-9-1 protocol header with a frame (connection.start).
amqp_greets() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'AMQP\x00\x00\x09\x01' >&3
    IFS= read -r -N 1 -t 3 byte <&3 || exit 1
    [[ $byte == $'\x01' ]]
  ) 2>/dev/null
}

fail() {
  echo "$1; log tail:" >&2
  tail -n 30 "$dir/log/node.log" "$dir/stdout.log" "$dir/epmd.log" >&2 2>/dev/null || true
  stop
  exit 1
}

start() {
  local port=$1 dist_port epmd_port deadline pid
  [[ $port =~ ^[0-9]+$ ]] || usage
  if [[ -f $dir/ports ]]; then
    read -r dist_port epmd_port <"$dir/ports"  # a restart: the same ports as before
  else
    dist_port=${2:-$(port_after "$port")}
    epmd_port=${3:-$(port_after "$port" "$dist_port")}
  fi
  [[ $dist_port$epmd_port =~ ^[0-9]+$ ]] || usage
  [[ -x $server ]] || { echo "$server missing: apt-get install -y rabbitmq-server" >&2; exit 1; }
  mkdir -p "$dir/log" "$dir/mnesia"
  for pid in wrapper node; do
    if [[ -f $dir/$pid.pid ]] && alive "$(cat "$dir/$pid.pid")"; then
      echo "a node already runs from $dir ($pid pid $(cat "$dir/$pid.pid"))" >&2
      exit 1
    fi
  done
  quiet_system_services
  echo '[].' >"$dir/enabled_plugins"  # no management UI, no Prometheus: no extra listeners
  : >"$dir/rabbitmq.conf"              # defaults, and never /etc/rabbitmq's file

  echo "$dist_port $epmd_port" >"$dir/ports"

  # Our own epmd, started first so the node registers with it instead of spawning a daemon
  # that would listen on every interface and outlive the node. After a kill it still runs.
  if [[ -f $dir/epmd.pid ]] && alive "$(cat "$dir/epmd.pid")"; then :; else
  setsid epmd -port "$epmd_port" -address 127.0.0.1 </dev/null >"$dir/epmd.log" 2>&1 &
  echo $! >"$dir/epmd.pid"
  deadline=$((SECONDS + 10))
  until listens "$epmd_port"; do
    if ((SECONDS >= deadline)) || ! alive "$(cat "$dir/epmd.pid")"; then
      fail "epmd did not listen on 127.0.0.1:$epmd_port"
    fi
    sleep 0.1
  done
  fi

  (
    export HOME=$dir  # the Erlang cookie goes here, not into /root
    export ERL_EPMD_PORT=$epmd_port ERL_EPMD_ADDRESS=127.0.0.1
    export RABBITMQ_NODENAME=brook-test-$port@localhost
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$port
    export RABBITMQ_DIST_PORT=$dist_port
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    export RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf
    export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
    export RABBITMQ_PLUGINS_EXPAND_DIR=$dir/plugins-expand
    export RABBITMQ_MNESIA_BASE=$dir/mnesia RABBITMQ_LOG_BASE=$dir/log
    export RABBITMQ_LOGS=$dir/log/node.log
    export RABBITMQ_PID_FILE=$dir/node.pid
    exec setsid "$server" </dev/null >"$dir/stdout.log" 2>&1
  ) &
  echo $! >"$dir/wrapper.pid"

  deadline=$((SECONDS + 60))
  until amqp_greets "$port"; do
    ((SECONDS < deadline)) || fail "RabbitMQ did not answer on 127.0.0.1:$port within 60 s"
    alive "$(cat "$dir/wrapper.pid")" || fail "RabbitMQ exited during start"
    sleep 0.25
  done
}

# TERM, wait up to `grace` s, then KILL and wait a little more.
end_pid() {
  local pid=$1 grace=$2 deadline
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + grace))
  while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
  alive "$pid" || return 0
  kill -KILL "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 5))
  while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
}

stop() {
  local f
  # The node first (its wrapper would TERM it too), then the wrapper, epmd last: the node
  # unregisters from epmd as it goes.
  for f in node wrapper epmd; do
    [[ -f $dir/$f.pid ]] || continue
    end_pid "$(cat "$dir/$f.pid")" 30
    rm -f "$dir/$f.pid"
  done
}

# A crash: SIGKILL to the node and everything in its session (the wrapper was started with
# setsid, so its process group holds the Erlang VM and its helpers), then wait for them to go.
crash() {
  local f pid deadline
  if [[ -f $dir/wrapper.pid ]]; then
    kill -KILL -- "-$(cat "$dir/wrapper.pid")" 2>/dev/null || true
  fi
  for f in node wrapper; do
    [[ -f $dir/$f.pid ]] || continue
    pid=$(cat "$dir/$f.pid")
    kill -KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while alive "$pid" && ((SECONDS < deadline)); do sleep 0.05; done
    if alive "$pid"; then
      echo "pid $pid ($f) still alive 10 s after SIGKILL" >&2
      exit 1
    fi
    rm -f "$dir/$f.pid"
  done
}

case $cmd in
  start) [[ $# -ge 3 && $# -le 5 ]] || usage; start "${@:3}" ;;
  stop) [[ $# -eq 2 ]] || usage; stop ;;
  kill) [[ $# -eq 2 ]] || usage; crash ;;
  *) usage ;;
esac
