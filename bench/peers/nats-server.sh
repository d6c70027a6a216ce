#!/usr/bin/env bash
# A private NATS core server for the benchmark (Debian's nats-server, no JetStream, no monitoring
# port), bound to 127.0.0.1 only, its pid and log under DIR. Not the system service.
#   bench/peers/nats-server.sh start DIR PORT   returns once the server greets clients (exit 1 if not in 20 s)
#   bench/peers/nats-server.sh stop DIR         stops the server started in DIR, waits for it to exit
set -euo pipefail

usage() { echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
cmd=$1 dir=$(realpath -m -- "$2")  # absolute: the server runs elsewhere
bin=/usr/sbin/nats-server

# The Debian package enables a system service; where systemd runs it would hold port 4222 and CPU.
quiet_system_service() {
  if command -v systemctl >/dev/null && systemctl is-active --quiet nats-server 2>/dev/null; then
    systemctl stop nats-server || true
    systemctl disable nats-server 2>/dev/null || true
  fi
}

# A zombie counts as gone: where PID 1 does not reap, kill -0 would succeed on it forever.
alive() {
  [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]
}

# True once something on PORT speaks the NATS protocol (a server greets with INFO).
greets() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    IFS= read -r -t 2 line <&3 || true
    [[ ${line:-} == INFO* ]]
  ) 2>/dev/null
}

start() {
  local port=$1 pid deadline
  [[ $port =~ ^[0-9]+$ ]] || usage
  [[ -x $bin ]] || { echo "$bin missing: apt-get install -y nats-server" >&2; exit 1; }
  mkdir -p "$dir"
  if [[ -f $dir/nats.pid ]] && alive "$(cat "$dir/nats.pid")"; then
    echo "a server already runs from $dir (pid $(cat "$dir/nats.pid"))" >&2
    exit 1
  fi
  quiet_system_service
  : >"$dir/nats.log"
  # setsid: the server must not die with the driver's terminal or take its signals.
  setsid "$bin" --addr 127.0.0.1 --port "$port" --log "$dir/nats.log" </dev/null \
    >"$dir/nats.out" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/nats.pid"
  deadline=$((SECONDS + 20))
  until greets "$port"; do
    if ! alive "$pid" || ((SECONDS >= deadline)); then
      echo "nats-server did not come up on 127.0.0.1:$port; log tail:" >&2
      tail -n 20 "$dir/nats.log" "$dir/nats.out" >&2 || true
      alive "$pid" && kill "$pid" 2>/dev/null
      rm -f "$dir/nats.pid"
      exit 1
    fi
    sleep 0.1
  done
}

stop() {
  local pid deadline
  [[ -f $dir/nats.pid ]] || return 0
  pid=$(cat "$dir/nats.pid")
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    if alive "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      deadline=$((SECONDS + 5))
      while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    fi
  fi
  rm -f "$dir/nats.pid"
}

case $cmd in
  start) [[ $# -eq 3 ]] || usage; start "$3" ;;
  stop) [[ $# -eq 2 ]] || usage; stop ;;
  *) usage ;;
esac
