#!/usr/bin/env bash
# At-least-once vs best-effort throughput on one pipeline hop (source -> sink, 100-byte bodies,
# the source emitting as fast as the channel takes it), each run through `brook up`. Prints a
# markdown table with the median of RUNS runs and the ratio. The full comparison against raw
# libzmq and brokers is scripts/bench (benchmark issue).
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

measure() {  # mode -> msgs/s of one run
  cat > "$work/t.yaml" <<YAML
topology: bench-delivery
directory: {endpoints: ['tcp://127.0.0.1:$port'], heartbeat: 200ms, ttl: 1s}
channels: {work: {delivery: $1}}
nodes:
  source: {exec: brook-test-source, job: true, restart: never, outputs: {out: work},
           params: {count: $count, rate: 0, body_size: 100}}
  sink: {exec: brook-test-sink, inputs: {in: work}, params: {timing: '$work/timing'}}
YAML
  "$bin/brook" up "$work/t.yaml" --quiet >"$work/up.log" 2>&1 || { tail -20 "$work/up.log" >&2; exit 1; }
  read -r n first last <"$work/timing"
  [[ $n -eq $count ]] || { echo "sink got $n of $count" >&2; exit 1; }
  awk -v n="$n" -v a="$first" -v b="$last" 'BEGIN { printf "%.0f\n", n / ((b - a) / 1e9) }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A rate
for mode in best-effort at-least-once; do
  rate[$mode]=$(for ((i = 0; i < runs; ++i)); do measure "$mode"; done | median)
done
echo "| delivery | msgs/s (median of $runs, $count × 100 B) |"
echo "|---|---|"
echo "| best-effort | ${rate[best-effort]} |"
echo "| at-least-once | ${rate[at-least-once]} |"
awk -v a="${rate[at-least-once]}" -v b="${rate[best-effort]}" \
  'BEGIN { printf "\nat-least-once / best-effort = %.2f\n", a / b }'
