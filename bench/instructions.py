#!/usr/bin/env python3
"""Instructions per message of one stage's threads, from callgrind (docs/bench.md).

Runs a shape of bench/run.py twice for each system, with every stage of one role (relay, sink or
source) under `valgrind --tool=callgrind --separate-threads=yes`, once with N1 messages and once
with N2: the difference of the two counts divided by N2 - N1 is what a message costs in the steady
state (start-up and shutdown cancel out). Unlike time on a shared VM it is repeatable to a few
per cent (what varies is how many messages a wake-up finds), so it shows what a code change
removes. libzmq's I/O thread is listed apart: its work is the transport's, the same for every
system. With --functions, the functions that take the most of the loop thread's count per
message (self cost, callgrind_annotate).

  python3 bench/instructions.py --bin build/bin [--systems raw,brook-best-effort]
      [--shape relay] [--role relay] [--size 100] [--counts 20000,60000] [--functions 25]

Needs valgrind (apt-get install valgrind). A stage under callgrind runs some 50 times slower:
the counts above take about a minute per system.
"""
import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run as bench_run  # noqa: E402


def wrapper(work, name, binary):
    """A script that runs `binary` with the arguments it is given (no binary: the first of
    them) under callgrind, one output file per process and thread in `work`."""
    script = work / name
    script.write_text("#!/bin/sh\n"
                      f"exec valgrind --tool=callgrind --separate-threads=yes "
                      f"--callgrind-out-file={work}/callgrind.%p {binary} \"$@\"\n")
    script.chmod(0o755)
    return script


class Runner(bench_run.Runner):
    """bench/run.py's runner with the stages of one role under callgrind."""

    def __init__(self, args, work, role):
        super().__init__(args, work)
        self.role = role
        # brook up runs a node's exec with the node's arguments; the raw stages are started here.
        self.brook_wrapper = wrapper(work, "callgrind-brook", self.bin / "bench-brook-stage")
        self.raw_wrapper = wrapper(work, "callgrind-raw", "")

    def spawn(self, argv, log, own_session=False):
        if Path(argv[0]).name.startswith("bench-raw") and self.role in argv:
            argv = [str(self.raw_wrapper)] + argv
        return super().spawn(argv, log, own_session)

    def topology(self, *a, **k):
        path = super().topology(*a, **k)
        stage = "exec: " + str(self.bin / "bench-brook-stage")
        lines = [line.replace(stage, "exec: " + str(self.brook_wrapper))
                 if f"role: {self.role}," in line else line
                 for line in path.read_text().splitlines()]
        # A stage under callgrind is ~50x slower: the source's default drain_timeout (2 s) can
        # end before that stage acknowledged everything.
        lines = [line.replace("job: true,", "job: true, drain_timeout: 300s,") for line in lines]
        path.write_text("\n".join(lines) + "\n")
        return path


def counts(work):
    """{file: instructions} of every callgrind output in work (a file per process and thread)."""
    out = {}
    for f in sorted(work.glob("callgrind.*-*")):
        for line in f.read_text(errors="replace").splitlines():
            if line.startswith(("totals:", "summary:")):
                out[f] = int(line.split()[1])
    return out


def per_function(f):
    """{function: self instructions} of one callgrind output."""
    text = subprocess.run(["callgrind_annotate", "--threshold=100", "--auto=no", str(f)],
                          capture_output=True, text=True, check=True).stdout
    d = collections.Counter()
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(\S+?):(.*)$", line)
        if m and "PROGRAM TOTALS" not in line:
            name = re.sub(r" \[/.*\]$", "", m[3])
            d[re.sub(r"\((?!\)).*", "", name)[-90:]] += int(m[1].replace(",", ""))
    return d


def measure(args, system, n):
    work = Path(tempfile.mkdtemp(prefix=f"instructions-{system}-"))
    runner = Runner(args, work, args.role)
    result = runner.run(system, args.shape, args.size, n, 0)
    summary = bench_run.summarize(result, n)
    if not summary or not summary["complete"]:
        sys.exit(f"instructions.py: {system} with {n} messages did not complete (logs in {work})")
    # Per process, its threads in creation order: the loop thread first, then libzmq's.
    files = counts(work)
    threads = collections.defaultdict(list)
    for f, total in files.items():
        pid, thread = f.name.split(".")[1].split("-")
        threads[pid].append((int(thread), total, f))
    return work, [sorted(t) for t in threads.values()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True, type=Path)
    ap.add_argument("--systems", default="raw,brook-best-effort")
    ap.add_argument("--shape", default="relay", choices=sorted(bench_run.SHAPES))
    ap.add_argument("--role", default="relay", choices=["source", "relay", "sink"])
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--counts", default="20000,60000")
    ap.add_argument("--functions", type=int, default=0, metavar="N")
    ap.add_argument("--keep", action="store_true",
                    help="keep the callgrind outputs (for callgrind_annotate --tree=caller)")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("instructions.py: needs valgrind (apt-get install valgrind)")
    args.bin = args.bin.resolve()
    n1, n2 = (int(x) for x in args.counts.split(","))
    print(f"{args.shape}, {args.size} B, each {args.role}: instructions per message "
          f"(({n2} - {n1} messages), callgrind)")
    for system in args.systems.split(","):
        work1, first = measure(args, system, n1)
        work2, second = measure(args, system, n2)
        for stage, (a, b) in enumerate(zip(first, second)):
            # Thread 1 is the process's main thread: the loop. The others are libzmq's (the
            # reaper does nothing per message).
            names = {1: "loop"}
            parts = []
            for (t, c1, _), (_, c2, _) in zip(a, b):
                per = (c2 - c1) / (n2 - n1)
                if per >= 1:
                    parts.append(f"{names.get(t, 'libzmq I/O' if t > 1 else t)} {per:,.0f}")
            print(f"  {system:22} {args.role} {stage}: " + ", ".join(parts))
            if args.functions:
                f1, f2 = per_function(a[0][2]), per_function(b[0][2])
                rows = sorted(((f2[k] - f1.get(k, 0)) / (n2 - n1), k) for k in f2)
                for per, name in reversed(rows[-args.functions:]):
                    print(f"      {per:7.0f}  {name}")
        if args.keep:
            print(f"  kept: {work1} {work2}")
        else:
            shutil.rmtree(work1, ignore_errors=True)
            shutil.rmtree(work2, ignore_errors=True)


if __name__ == "__main__":
    main()
