#!/usr/bin/env bash
# Throughput of the delivery modes on one pipeline hop (source -> sink, 100-byte bodies, the
# source emitting as fast as the channel takes it), each run through `brook up`: best-effort,
# at-least-once, and at-least-once from a durable output with each fsync policy (`always` runs
# COUNT/50 messages: one disk flush each). Prints a markdown table with the median of RUNS runs
# and ratios to best-effort. The comparison against raw libzmq and brokers is scripts/bench.
#   bench/delivery_modes.sh [COUNT] [RUNS]      (defaults 1000000 3; needs a build in build/)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000000}
runs=${2:-3}
bin=$(pwd)/build/bin
[[ -x $bin/brook ]] || { echo "build first: scripts/test (or cmake --build build)" >&2; exit 2; }
work=$(mktemp -d /tmp/brook-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 9000))

measure() {  # delivery durable fsync count -> msgs/s of one run
  local outputs="{out: work}"
  [[ $2 == true ]] && outputs="[{port: out, channel: work, durable: true, fsync: $3}]"
  rm -rf "$work/state"
  cat > "$work/t.yaml" <<YAML
topology: bench-delivery
directory: {endpoints: ['tcp://127.0.0.1:$port'], heartbeat: 200ms, ttl: 1s}
state_dir: '$work/state'
channels: {work: {delivery: $1}}
nodes:
  source: {exec: brook-test-source, job: true, restart: never, outputs: $outputs,
           params: {count: $4, rate: 0, body_size: 100}}
  sink: {exec: brook-test-sink, inputs: {in: work}, params: {timing: '$work/timing'}}
YAML
  "$bin/brook" up "$work/t.yaml" --quiet >"$work/up.log" 2>&1 || { tail -20 "$work/up.log" >&2; exit 1; }
  read -r n first last <"$work/timing"
  [[ $n -eq $4 ]] || { echo "sink got $n of $4" >&2; exit 1; }
  awk -v n="$n" -v a="$first" -v b="$last" 'BEGIN { printf "%.0f\n", n / ((b - a) / 1e9) }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

modes=("best-effort false - $count" "at-least-once false - $count"
       "at-least-once true never $count" "at-least-once true batch $count"
       "at-least-once true always $((count / 50))")
names=("best-effort" "at-least-once" "durable, fsync never" "durable, fsync batch"
       "durable, fsync always ($((count / 50)) msgs)")
declare -a rate
for i in "${!modes[@]}"; do
  # shellcheck disable=SC2086
  rate[i]=$(for ((r = 0; r < runs; ++r)); do measure ${modes[i]}; done | median)
done
echo "| delivery | msgs/s (median of $runs, $count × 100 B) | ÷ best-effort |"
echo "|---|---|---|"
for i in "${!modes[@]}"; do
  awk -v name="${names[i]}" -v a="${rate[i]}" -v b="${rate[0]}" \
    'BEGIN { printf "| %s | %d | %.2f |\n", name, a, a / b }'
done
