# Shared by the SDK tests: a user's project (examples/wordcount, copied out of this repository)
# built against brook, then run under `brook up`. Sourced; expects:
#   BROOK_SOURCE_DIR   this repository      BROOK_BUILD_DIR   its configured, built tree
#   BROOK_SDK_CXXFLAGS extra compiler and linker flags (the sanitizers of a --sanitize build)
set -euo pipefail

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/brook-sdk.XXXXXX")
cleanup() {
  local status=$?
  # A failed run keeps its directory for a look at the logs.
  if ((status == 0)); then rm -rf "$work"; else echo "kept $work for inspection" >&2; fi
}
trap cleanup EXIT

# An unused TCP port on loopback, for the example's directory.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# A copy of the example project, as a user's repository would hold it.
copy_example() {
  local dest=$1
  mkdir -p "$dest"
  cp -r "$BROOK_SOURCE_DIR/examples/wordcount/." "$dest/"
}

# run_wordcount BROOK NODE_PATH LINES DIR: `brook up` of the example's topology with the node
# programs found on NODE_PATH; then every line must have reached the tally exactly once.
run_wordcount() {
  local brook=$1 node_path=$2 lines=$3 dir=$4
  local report=$dir/report.txt log=$dir/up.log
  rm -f "$report"
  local status=0
  (cd "$dir" && BROOK_PATH=$node_path WORDCOUNT_PORT=$(free_port) WORDCOUNT_LINES=$lines \
     WORDCOUNT_REPORT=$report timeout 120 "$brook" up "$dir/wordcount.yaml") >"$log" 2>&1 ||
    status=$?
  if ((status != 0)); then
    tail -30 "$log" >&2
    fail "brook up exited with $status"
  fi
  grep -q "stopped cleanly" "$log" || { tail -30 "$log" >&2; fail "brook up did not stop cleanly"; }
  [[ -f $report ]] || fail "the tally wrote no report ($report)"
  local got once
  got=$(wc -l <"$report")
  once=$(awk '$2 == 1' "$report" | wc -l)
  ((got == lines)) || fail "the tally saw $got of $lines lines"
  ((once == lines)) || fail "$((lines - once)) lines arrived more than once"
  local expected
  expected=$(seq 1 "$lines" | tr '\n' ' ')
  [[ "$(awk '{print $1}' "$report" | tr '\n' ' ')" == "$expected" ]] ||
    fail "the report's line ids are not 1..$lines"
  echo "ok: $lines lines, each arrived once ($brook)"
}
