#!/usr/bin/env python3
"""Scaling measurements for scripts/bench (standard library only): throughput with 1-8 relay
replicas, time for `brook up` to start 100 and 1,000 nodes (with the directory's peak RSS and the
CPU each process spent until READY), a new replica's first message, idle node RSS.

Directory heartbeat 200ms and ttl 1s as in the tests (the 100- and 1,000-node topologies: the
defaults, 1s and 3s); at-least-once pipeline channels. Times are CLOCK_MONOTONIC
(time.monotonic_ns(), the nodes' std::chrono::steady_clock), so they compare across processes.

    python3 bench/scaling.py --bin build/bin [--quick] [--keep] [--only thousand_nodes,...]
"""
import argparse, contextlib, json, os, pathlib, random, re, select, shutil, signal, socket
import statistics, subprocess, sys, tempfile, threading, time

DIRECTORY = "directory: {endpoints: ['tcp://127.0.0.1:%d'], heartbeat: 200ms, ttl: 1s}\n"
DEFAULT_DIRECTORY = "directory: {endpoints: ['tcp://127.0.0.1:%d']}\n"  # heartbeat 1s, ttl 3s
TARGETS = {"ready_s": 2.0, "first_message_ms": 200.0, "idle_rss_mib": 8.0,
           # issue 17, "Scale": 1,000 nodes under brook up, relay replicas 1 -> 8 on 2 cores.
           "ready_1000_s": 5.0, "directory_rss_mib": 64.0, "replica_loss_pct": 25.0}


def free_port():
    """A TCP port in 20000-29999 that 127.0.0.1 can bind right now."""
    for port in random.sample(range(20000, 30000), 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                pass
    raise RuntimeError("no free port in 20000-29999")


def spawn(argv, log, ready=False):
    """Start argv in its own process group, output appended to `log`; with `ready`, give it a
    pipe as BROOK_READY_FD. Returns (Popen, read end of that pipe or None)."""
    env = {k: v for k, v in os.environ.items() if k != "BROOK_READY_FD"}
    rfd, wfd = os.pipe() if ready else (None, None)
    if ready:
        env["BROOK_READY_FD"] = str(wfd)
    with open(log, "ab") as out:
        p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT, env=env, start_new_session=True,
                             pass_fds=(wfd,) if ready else ())
    if ready:
        os.close(wfd)
    return p, rfd


def read_ready(fd, timeout):
    """Read the first line from `fd`, then close it. Returns the line if it starts with READY,
    else None (end of file: the process exited or gave up; or `timeout` s passed)."""
    buf, deadline = b"", time.monotonic() + timeout
    left = lambda: max(0, deadline - time.monotonic())
    with os.fdopen(fd, "rb", buffering=0) as f:
        while b"\n" not in buf and select.select([f], [], [], left())[0]:
            chunk = f.read(512)
            if not chunk:
                break
            buf += chunk
    line = buf.decode(errors="replace")
    return line.split("\n")[0] if line.startswith("READY") and "\n" in line else None


def proc_text(pid, name):
    """/proc/PID/NAME as text ('' once the process is gone)."""
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def children(pid):
    """{pid: cmdline} of the direct children of `pid` (from /proc/PID/task/*/children)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        tasks = []
    kids = [k for task in tasks for k in proc_text(pid, f"task/{task}/children").split()]
    return {int(k): proc_text(k, "cmdline").replace("\0", " ") for k in kids}


def cpu_ms(pid):
    """CPU time of `pid` in ms (None once it is gone): the sum of its threads' time on CPU from
    /proc/PID/task/*/schedstat, in ns; utime + stime from /proc/PID/stat only where there is no
    schedstat, as those count whole clock ticks (10 ms) and a starting node takes a few ms."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    ns = [proc_text(pid, f"task/{t}/schedstat").split()[:1] for t in tasks]
    if ns and all(ns):
        return round(sum(int(n[0]) for n in ns) / 1e6, 1)
    stat = proc_text(pid, "stat")
    if not stat:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # fields[0] is field 3 (state)
    return (int(fields[11]) + int(fields[12])) * 1000 // os.sysconf("SC_CLK_TCK")


def status_kib(pid, key):
    """A kB field of /proc/PID/status (VmRSS, VmHWM) in KiB, or None."""
    m = re.search(rf"^{key}:\s+(\d+) kB", proc_text(pid, "status"), re.M)
    return int(m.group(1)) if m else None


def stop(p, grace, recorded=None):
    """SIGTERM `p`, wait up to `grace` s, then SIGKILL its process group; afterwards SIGKILL
    each recorded descendant {pid: cmdline} that still runs the same command line.
    Returns p's exit status (None if it had to be killed)."""
    code = p.poll()
    if code is None:
        try:
            os.kill(p.pid, signal.SIGTERM)
            code = p.wait(grace)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)
    for pid, cmd in (recorded or {}).items():
        if proc_text(pid, "cmdline").replace("\0", " ") == cmd:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return code


def log_issues(log, limit=5):
    """Up to `limit` warning/error/failure lines of a log."""
    bad = re.compile(r"\b(WARN|ERROR)\b|giving up|failed \(|not ready yet")
    text = pathlib.Path(log).read_text(errors="replace") if pathlib.Path(log).exists() else ""
    return [line.strip() for line in text.splitlines() if bad.search(line)][:limit]


def up(bin_dir, topo, log):
    """Start `brook up TOPO --quiet`; a thread reads its READY line. Returns (Popen, a dict that
    gets 'line' and 't_ns' when READY arrives or fails, start time ns, brook-directory pid)."""
    t0, got = time.monotonic_ns(), {}
    p, fd = spawn([bin_dir / "brook", "up", topo, "--quiet"], log, ready=True)
    def reader():
        got["line"], got["t_ns"] = read_ready(fd, 60), time.monotonic_ns()
    threading.Thread(target=reader, daemon=True).start()
    deadline = time.monotonic() + 10  # brook up starts the directory first
    while time.monotonic() < deadline and p.poll() is None:
        dpid = next((k for k, cmd in children(p.pid).items() if "brook-directory" in cmd), None)
        if dpid:
            return p, got, t0, dpid
        time.sleep(0.01)
    return p, got, t0, None


def replica_run(bin_dir, work, replicas, n):
    """source -> relay (R replicas) -> sink through brook up; sink throughput, directory CPU."""
    res = {"replicas": replicas}
    timing, log = work / f"timing-{replicas}", work / f"up-{replicas}.log"
    topo = work / f"replicas-{replicas}.yaml"
    topo.write_text(
        "topology: bench-scaling\n" + DIRECTORY % free_port() +
        "channels: {work: {}, done: {}}\nnodes:\n"
        "  source: {exec: brook-test-source, job: true, restart: never, outputs: {out: work},\n"
        f"           params: {{count: {n}, rate: 0, body_size: 100}}}}\n"
        f"  relay: {{exec: brook-test-sink, replicas: {replicas}, inputs: {{in: work}},"
        " outputs: {out: done}}\n"
        f"  sink: {{exec: brook-test-sink, inputs: {{in: done}}, params: {{timing: '{timing}'}}}}"
        "\n")
    p, _, t0, dpid = up(bin_dir, topo, log)
    seen, code = {}, None
    try:
        deadline = time.monotonic() + 30 + n / 2000
        while p.poll() is None and time.monotonic() < deadline:
            sample = cpu_ms(dpid) if dpid else None
            if sample is not None:
                res["directory_cpu_ms"] = sample  # the last value before it exits
            seen.update(children(p.pid))
            time.sleep(0.05)
        if p.poll() is None:
            res["error"] = "brook up did not finish in time"
    finally:
        code = stop(p, 12, seen)
        res["wall_s"] = round((time.monotonic_ns() - t0) / 1e9, 2)
        res["log"] = log_issues(log)
    if "error" not in res:
        try:
            count, first, last = map(int, timing.read_text().split())
            res["msgs_per_s"] = round(count / max(last - first, 1) * 1e9)
            if count != n or code != 0:
                res["error"] = f"sink got {count} of {n}, brook up exit {code}"
        except (OSError, ValueError):
            res["error"] = f"no timing file (brook up exit {code})"
    return res


def many_nodes(bin_dir, work, pairs, limit):
    """`pairs` ticker -> printer pairs (2 x pairs nodes) under brook up: start -> READY (waited for
    up to `limit` s), directory peak RSS, CPU ms each process spent until READY. Not
    brook-test-source: it paces any rate with a 1 ms timer (~25 ms CPU/s each), so 50 of them
    would load 2 cores by themselves."""
    res = {"nodes": 2 * pairs}
    name = f"nodes-{2 * pairs}"
    topo, log = work / f"{name}.yaml", work / f"{name}.log"
    text = f"topology: bench-{name}\n" + DEFAULT_DIRECTORY % free_port() + "channels:\n"
    text += "".join(f"  c{i}: {{}}\n" for i in range(pairs)) + "nodes:\n"
    for i in range(pairs):
        text += (f"  tick{i}: {{exec: brook-example-ticker, outputs: {{out: c{i}}},"
                 " params: {period: 1s}}\n"
                 f"  print{i}: {{exec: brook-example-printer, inputs: {{in: c{i}}}}}\n")
    topo.write_text(text)
    res["topology_bytes"] = len(text)
    p, ready, t0, dpid = up(bin_dir, topo, log)
    seen = {}
    try:
        deadline, next_scan = time.monotonic() + limit, 0.0
        while "line" not in ready and p.poll() is None and time.monotonic() < deadline:
            # Reading /proc for every child costs CPU the nodes are competing for: scan
            # rarely (for a child that exits before READY), and once more at READY.
            if time.monotonic() >= next_scan:
                seen.update(children(p.pid))
                next_scan = time.monotonic() + 0.5
            time.sleep(0.01)
        if not ready.get("line"):
            res["error"] = f"no READY line within {limit} s (brook up exit {p.poll()})"
            return res
        res["ready_s"] = round((ready["t_ns"] - t0) / 1e9, 3)
        res["instances"] = ready["line"].split("instances=")[-1].split()[0]
        seen.update(children(p.pid))
        # CPU spent until READY: brook up, the directory, each node (read now, a little after).
        cpu = {"brook up": cpu_ms(p.pid) or 0}
        nodes = []
        for pid, cmd in seen.items():
            name = os.path.basename(cmd.split(" ")[0])
            ms = cpu_ms(pid) or 0
            cpu[name] = round(cpu.get(name, 0) + ms, 1)
            if name == "brook-directory":
                res["directory_cpu_ms_at_ready"] = ms
            else:
                nodes.append(ms)
        res["cpu_ms_at_ready"] = cpu
        res["brook_up_cpu_ms_at_ready"] = cpu["brook up"]
        if nodes:
            res["node_cpu_ms_at_ready"] = {"median": statistics.median(nodes), "max": max(nodes)}
        time.sleep(1)  # a few heartbeats in steady state
        res["directory_peak_rss_kib"] = status_kib(dpid, "VmHWM") if dpid else None
        t_stop = time.monotonic()
        res["stop_exit"] = stop(p, 15 if pairs <= 50 else 30, seen)
        res["stop_s"] = round(time.monotonic() - t_stop, 2)
    finally:
        stop(p, 15, seen)
        res["log"] = log_issues(log)
        res["leases_expired"] = log.read_text(errors="replace").count("lease expired")
    return res


def start_system(bin_dir, work, name, topo_text, procs):
    """Write topology `name` (`topo_text` % port), start its directory on a free port; returns
    node(exe, node_name, instance, log, sets) that starts an instance. Each start waits up to 10 s
    for READY and records the process in `procs`."""
    port, topo = free_port(), work / f"{name}.yaml"
    topo.write_text(topo_text % port)
    def start(argv, log, what):
        p, fd = spawn(argv, work / log, ready=True)
        procs.append(p)
        if not read_ready(fd, 10):
            raise RuntimeError(f"{what} did not become ready; see {work / log}")
        return p
    def node(exe, node_name, instance, log, sets=()):
        argv = [bin_dir / exe, "--topology", topo, "--node", node_name, "--instance", instance,
                "--directory", f"tcp://127.0.0.1:{port}"]
        return start(argv + [a for s in sets for a in ("--set", s)], log, f"{node_name}.{instance}")
    start([bin_dir / "brook-directory", "--bind", f"tcp://127.0.0.1:{port}", "--topology", topo],
          f"{name}-directory.log", "brook-directory")
    return node


def first_message(bin_dir, work, repeats):
    """Source at 2000/s -> sink (replicas 2, only .0 running); `repeats` times start sink.1 and
    measure from its spawn to its first received message, in ms."""
    res, procs, runs, ready_ms = {}, [], [], []
    try:
        node = start_system(bin_dir, work, "first", (
            "topology: bench-first\n" + DIRECTORY + "channels: {work: {}}\nnodes:\n"
            "  source: {exec: brook-test-source, outputs: {out: work},\n"
            "           params: {count: 1000000000, rate: 2000, exit_when_done: false}}\n"
            "  sink: {exec: brook-test-sink, replicas: 2, inputs: {in: work}}\n"), procs)
        node("brook-test-sink", "sink", 0, "first-sink0.log")
        node("brook-test-source", "source", 0, "first-source.log")
        time.sleep(1)
        for k in range(repeats):
            journal, timing = work / f"first-journal-{k}", work / f"first-timing-{k}"
            t0 = time.monotonic_ns()
            p = node("brook-test-sink", "sink", 1, f"first-sink1-{k}.log",
                     [f"sink.params.journal={journal}", f"sink.params.timing={timing}"])
            ready_ms.append(round((time.monotonic_ns() - t0) / 1e6, 1))
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not (journal.exists() and journal.stat().st_size):
                time.sleep(0.005)
            stop(p, 5)
            count, first, _ = map(int, timing.read_text().split()) if timing.exists() else (0,) * 3
            if count:
                runs.append(round((first - t0) / 1e6, 1))
            else:
                res.setdefault("errors", []).append(f"run {k}: sink.1 received nothing in 5 s")
            time.sleep(0.5)
    except Exception as e:  # a start failed: report it, keep the other measurements
        res["error"] = str(e)
    finally:
        for p in reversed(procs):
            stop(p, 5)
    res["runs"], res["sink1_ready_ms"] = runs, ready_ms
    if runs:
        res["median"], res["max"] = statistics.median(runs), max(runs)
    res["log"] = log_issues(work / "first-source.log") + log_issues(work / "first-sink0.log")
    return res


def idle_rss(bin_dir, work):
    """VmRSS and VmHWM (KiB) of a ready brook-test-sink that receives nothing, 1 s after READY."""
    procs = []
    try:
        node = start_system(bin_dir, work, "idle", (
            "topology: bench-idle\n" + DIRECTORY + "channels: {idle: {external: true}}\n"
            "nodes:\n  sink: {exec: brook-test-sink, inputs: {in: idle}}\n"), procs)
        p = node("brook-test-sink", "sink", 0, "idle-sink.log")
        time.sleep(1)
        return {"rss": status_kib(p.pid, "VmRSS"), "hwm": status_kib(p.pid, "VmHWM")}
    except Exception as e:
        return {"error": str(e)}
    finally:
        for p in reversed(procs):
            stop(p, 5)


PARTS = ("replicas", "hundred_nodes", "thousand_nodes", "first_message_ms", "idle_rss_kib")


def run(bin_dir: pathlib.Path, work: pathlib.Path, quick: bool, parts=PARTS) -> dict:
    """Run the measurements `parts` (all five by default) with the binaries in `bin_dir`, files
    under `work`."""
    bin_dir, work = pathlib.Path(bin_dir).resolve(), pathlib.Path(work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    n = 50000 if quick else 200000
    def attempt(step, **base):  # a bug or an environment problem: record it and go on
        try:
            return step()
        except Exception as e:
            return {**base, "error": f"{type(e).__name__}: {e}"}
    steps = {
        "replicas": lambda: [attempt(lambda r=r: replica_run(bin_dir, work, r, n), replicas=r)
                             for r in (1, 2, 4, 8)],
        "hundred_nodes": lambda: attempt(lambda: many_nodes(bin_dir, work, 50,
                                                            20 if quick else 60)),
        "thousand_nodes": lambda: attempt(lambda: many_nodes(bin_dir, work, 500,
                                                             30 if quick else 60)),
        "first_message_ms": lambda: attempt(lambda: first_message(bin_dir, work,
                                                                  3 if quick else 5)),
        "idle_rss_kib": lambda: attempt(lambda: idle_rss(bin_dir, work))}
    results = {"config": {"messages": n, "body_bytes": 100, "heartbeat": "200ms", "ttl": "1s",
                          "cores": os.cpu_count(),
                          "loadavg_before": round(os.getloadavg()[0], 2)}}
    for part in parts:
        results[part] = steps[part]()
    return results


def markdown(results: dict) -> str:
    """The "### Scaling" section: replica scaling, then each figure against its target."""
    def fmt(v):
        return "–" if v is None else f"{v:,}" if isinstance(v, int) else str(v)
    cfg = results.get("config", {})
    h, f, i, k = (results.get(key, {}) for key in
                  ("hundred_nodes", "first_message_ms", "idle_rss_kib", "thousand_nodes"))
    mib = lambda kib: None if kib is None else round(kib / 1024, 1)
    out = ["### Scaling", "",
           f"{cfg.get('cores')} cores, load average {cfg.get('loadavg_before')} at the start; "
           "directory heartbeat 200ms, ttl 1s (100 and 1,000 nodes: defaults 1s, 3s); "
           "at-least-once.", "",
           "**Replicas**: source → relay (brook-test-sink, *R* replicas) → sink through `brook "
           f"up`, {fmt(cfg.get('messages'))} × 100 B emitted flat out. msgs/s = messages ÷ "
           "(sink's last − first receive), the first one hop after the source's first emit, so "
           "≈ from source start. Directory CPU: its time on CPU (schedstat); wall: all of "
           "`brook up`.", "",
           "| relay replicas | msgs/s | directory CPU ms | wall s | |", "|---|---|---|---|---|"]
    for r in results.get("replicas", []):
        out.append(f"| {r['replicas']} | {fmt(r.get('msgs_per_s'))} | "
                   f"{fmt(r.get('directory_cpu_ms'))} | {fmt(r.get('wall_s'))} | "
                   + (f"error: {r['error']} |" if "error" in r else " |"))
    first = TARGETS["first_message_ms"]
    tput = {r["replicas"]: r.get("msgs_per_s") for r in results.get("replicas", [])
            if "error" not in r}
    loss = (round(100 * (1 - tput[8] / tput[1]), 1) if tput.get(1) and tput.get(8) is not None
            else None)
    kcpu = k.get("node_cpu_ms_at_ready", {})
    rows = [("relay replicas 1 → 8: throughput lost, %", loss, TARGETS["replica_loss_pct"]),
            ("100 nodes: `brook up` start → READY, s", h.get("ready_s"), TARGETS["ready_s"]),
            ("100 nodes: directory peak RSS, MiB", mib(h.get("directory_peak_rss_kib")), None),
            ("1,000 nodes: `brook up` start → READY, s", k.get("ready_s"),
             TARGETS["ready_1000_s"]),
            ("1,000 nodes: directory peak RSS, MiB", mib(k.get("directory_peak_rss_kib")),
             TARGETS["directory_rss_mib"]),
            ("1,000 nodes: CPU ms to READY, `brook up`", k.get("brook_up_cpu_ms_at_ready"), None),
            ("1,000 nodes: CPU ms to READY, directory", k.get("directory_cpu_ms_at_ready"), None),
            ("1,000 nodes: CPU ms to READY, a node (median)", kcpu.get("median"), None),
            ("1,000 nodes: CPU ms to READY, a node (max)", kcpu.get("max"), None),
            ("new replica → first message, median ms", f.get("median"), first),
            ("new replica → first message, max ms", f.get("max"), first),
            ("idle node VmRSS, MiB", mib(i.get("rss")), TARGETS["idle_rss_mib"]),
            ("idle node VmHWM, MiB", mib(i.get("hwm")), None)]
    out += ["", "| figure | value | target | |", "|---|---|---|---|"]
    for name, v, target in rows:
        verdict = "–" if v is None or target is None else "pass" if v <= target else "**miss**"
        out.append(f"| {name} | {fmt(v)} | {'–' if target is None else f'≤ {target:g}'} "
                   f"| {verdict} |")
    for key, d in (("hundred_nodes", h), ("thousand_nodes", k), ("first_message_ms", f),
                   ("idle_rss_kib", i)):
        for err in [d["error"]] if "error" in d else d.get("errors", []):
            out.append(f"\n{key}: error: {err}")
    out += ["", "**100 nodes**: 50 brook-example-ticker (1 msg/s, forever) → "
            "brook-example-printer pairs on 50 channels. `brook up` starts the printers, and each "
            "ticker once its printer is READY (registered); a ticker is READY once connected to "
            "its printer; then `brook up` writes READY "
            f"({h.get('instances', '?')}). CPU ms by then: {h.get('cpu_ms_at_ready')}; leases "
            f"lapsed: {h.get('leases_expired')}.", "",
            f"**1,000 nodes**: the same with 500 pairs ({fmt(k.get('topology_bytes'))} B of "
            f"topology; {k.get('instances', '?')} ready); CPU ms at READY: brook up, the "
            "directory and each node's median and max (the nodes' CPU is read just after READY, "
            f"so a node counts a few ms of its steady state). Stopped in {k.get('stop_s')} s; "
            f"leases lapsed: {k.get('leases_expired')}.", "",
            "**New replica**: source at 2000 msg/s → sink (replicas 2), started directly; after "
            "1 s sink.1 is spawned; first message = its first receive − its spawn. Runs (ms): "
            f"{f.get('runs')}; sink.1 READY after {f.get('sink1_ready_ms')} ms.", "",
            "**Idle node**: brook-test-sink on an external channel, 1 s after its READY.", ""]
    return "\n".join(out)


def main():
    """Standalone: run everything in a temporary directory, print markdown then JSON."""
    ap = argparse.ArgumentParser(description="brook scaling measurements (scripts/bench)")
    ap.add_argument("--bin", type=pathlib.Path, default=pathlib.Path("build/bin"))
    ap.add_argument("--quick", action="store_true", help="fewer messages and runs (< 60 s)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    ap.add_argument("--only", help="comma-separated parts to run, of: " + ", ".join(PARTS))
    args = ap.parse_args()
    parts = args.only.split(",") if args.only else PARTS
    if any(p not in PARTS for p in parts):
        ap.error(f"--only takes parts of: {', '.join(PARTS)}")
    work = pathlib.Path(tempfile.mkdtemp(prefix="brook-scaling-"))
    try:
        results = run(args.bin, work, args.quick, parts)
    finally:
        print(f"work directory: {work}", file=sys.stderr) if args.keep else shutil.rmtree(work)
    print(markdown(results) + "\n" + json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
