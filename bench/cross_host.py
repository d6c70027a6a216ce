"""Cross-namespace throughput against loopback (bench/run.py): the one-hop pipeline with the
source in one network namespace and the sink in another (scripts/netns: hosts 10.77.0.1 and
10.77.0.2 joined by a bridge, veth links), for raw libzmq and brook best-effort and
at-least-once, each against the same pipeline on loopback. Tells what a real network path costs
before any wire: the veth + bridge hops and, for brook, the directory reached across them.

Needs root (network namespaces); without, run() returns None and says why.
"""
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import RAW_HWM, RAW_HWM_DEFAULT, free_port, read_results, summarize, wait_all  # noqa: E402

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "netns"
SYSTEMS = ["raw", "brook-best-effort", "brook-at-least-once"]
SOURCE_HOST, SINK_HOST = 1, 2
RUNS = 3  # flat-out runs per side; the median is shown


def address(host):
    return f"10.77.0.{host}"


def listening(pid, port):
    """Whether the network namespace of process `pid` has a TCP listener on `port`."""
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            return False
        for line in lines:
            f = line.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def wait_listening(pid, port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listening(pid, port):
            return True
        time.sleep(0.005)
    return False


class Bed:
    def __init__(self):
        self.prefix = "bb" + uuid.uuid4().hex[:8]
        r = subprocess.run(["bash", str(SCRIPT), "up", self.prefix, "2"], capture_output=True,
                           text=True)
        self.why = None if r.returncode == 0 else (r.stderr.strip() or "scripts/netns up failed")

    def exec(self, host):
        return ["ip", "netns", "exec", f"{self.prefix}-{host}"]

    def close(self):
        subprocess.run(["bash", str(SCRIPT), "down", self.prefix], capture_output=True)


class CrossRunner:
    """Runs the one-hop pipeline across two hosts of `bed`, as runner.run() does on loopback."""

    def __init__(self, runner, bed):
        self.r = runner
        self.bed = bed

    def run(self, system, size, count):
        result = self.r.work / f"cross-{time.monotonic_ns()}.jsonl"
        ok = (self.run_raw if system == "raw" else self.run_brook)(system, size, count, result)
        return {"ok": ok, "stages": read_results(result), "directory_cpu_ms": 0.0}

    def run_raw(self, system, size, count, result):
        """The best raw stage (bench-raw-best-stage), wired as on loopback: the source binds its
        PUSH, the sink's PULL connects to it."""
        port = free_port()
        log = open(self.r.work / "cross-raw.log", "a")
        stage = str(self.r.bin / "bench-raw-best-stage")
        common = ["--count", str(count), "--result", str(result), "--timeout-s", "120",
                  "--hwm", str(RAW_HWM.get(("one-hop", size), RAW_HWM_DEFAULT))]
        ep = f"tcp://{address(SOURCE_HOST)}:{port}"
        source = self.r.spawn(self.bed.exec(SOURCE_HOST) + [
            stage, "--role", "source", "--name", "client", "--out", ep, "--subscribers", "1",
            "--rate", "0", "--size", str(size)] + common, log, own_session=False)
        if not wait_listening(source.pid, port, 10):
            wait_all([source], 0)
            return False
        sink = self.r.spawn(self.bed.exec(SINK_HOST) + [stage, "--role", "sink", "--name", "sink",
                                                         "--in", ep] + common, log,
                            own_session=False)
        return wait_all([source, sink], 150)

    def run_brook(self, system, size, count, result):
        port = free_port()
        topo = self.r.topology(system, "one-hop", size, count, 0, result, port)
        # The directory runs on the source's host, so the sink reaches it across the bridge.
        dir_ep = f"tcp://{address(SOURCE_HOST)}:{port}"
        text = topo.read_text().replace(f"'tcp://127.0.0.1:{port}']", f"'{dir_ep}'], "
                                        "external: true")
        topo.write_text(text)
        log = open(self.r.work / "cross-brook.log", "a")
        directory = self.r.spawn(self.bed.exec(SOURCE_HOST) + [
            str(self.r.bin / "brook-directory"), "--bind", dir_ep, "--log-level", "warn"], log)
        procs = [directory]
        try:
            if not wait_listening(directory.pid, port, 10):
                return False
            ups = []
            for host, node in ((SINK_HOST, "sink"), (SOURCE_HOST, "client")):
                ups.append(self.r.spawn(self.bed.exec(host) + [
                    str(self.r.bin / "brook"), "up", str(topo), "--quiet", "--no-directory",
                    "--only", node, "--advertise", address(host)], log))
            procs += ups
            return wait_all(ups, 150) and all(u.returncode == 0 for u in ups)
        finally:
            wait_all([directory], 0)


def run(runner, count):
    """{system: {"loopback": msgs/s, "cross": msgs/s}}, or None (with a message) without
    namespaces."""
    bed = Bed()
    if bed.why:
        print(f"bench: cross-namespace rows skipped: cannot create network namespaces ({bed.why}); "
              "run as root", file=sys.stderr)
        return None
    out = {}
    try:
        cross = CrossRunner(runner, bed)
        for system in SYSTEMS:
            print(f"bench: {system} one-hop 100 B × {count}, loopback and cross-namespace ...",
                  file=sys.stderr, flush=True)
            tput = {"loopback": [], "cross": []}
            # Alternating, so drift in the machine's load hits both sides alike.
            for _ in range(RUNS):
                for where, fn in (("loopback", lambda: runner.run(system, "one-hop", 100, count,
                                                                  0)),
                                  ("cross", lambda: cross.run(system, 100, count))):
                    s = summarize(fn(), count)
                    if s and s["complete"]:
                        tput[where].append(s["msgs_per_s"])
            out[system] = {w: statistics.median(v) if v else None for w, v in tput.items()}
    finally:
        bed.close()
    return out


def markdown(res):
    if res is None:
        return "\n## Cross-namespace one-hop\n\n(skipped: network namespaces unavailable)\n"
    lines = ["", f"## Cross-namespace one-hop (100 B, median of {RUNS} runs)", "",
             "Source and sink in two network namespaces joined by a bridge (veth, "
             "scripts/netns) against both on loopback.", "",
             "| system | loopback msgs/s | cross-namespace msgs/s | cross ÷ loopback |",
             "|---|---:|---:|---:|"]
    for system, row in res.items():
        lo, cr = row.get("loopback"), row.get("cross")
        ratio = f"{cr / lo:.2f}" if lo and cr else "—"
        fmt = lambda v: "—" if v is None else f"{v:,.0f}"  # noqa: E731
        lines.append(f"| {system} | {fmt(lo)} | {fmt(cr)} | {ratio} |")
    return "\n".join(lines) + "\n"
