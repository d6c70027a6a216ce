"""Throughput of the RabbitMQ bridges (brook-amqp-out, brook-amqp-in; docs/amqp.md) against a
RabbitMQ already running on 127.0.0.1 (tests/support/rabbitmq.sh), each in its own phase:

- out: brook-test-source (a job, flat out) -> brook-amqp-out -> queue, publisher confirms; the
  source acknowledges nothing until the broker confirmed it, and `brook up` exits once every
  message was. Rate = messages / (exit - READY of `brook up`).
- in: the queue that phase filled -> brook-amqp-in -> brook-test-sink, each delivery acked to
  the broker once the sink acknowledged it. Rate = messages / (last - first, at the sink).

Messages: 100 B bodies, transient (delivery_mode 1, like the bench's RabbitMQ peer), prefetch
1000 (the peer's)."""
import os
import signal
import subprocess
import time
from pathlib import Path


def _up(bin_dir, topo, log):
    """Starts `brook up` with a READY pipe; returns (process, read end)."""
    r, w = os.pipe()
    env = dict(os.environ, BROOK_READY_FD=str(w))
    p = subprocess.Popen([str(bin_dir / "brook"), "up", str(topo), "--quiet"], stdout=log,
                         stderr=subprocess.STDOUT, env=env, pass_fds=(w,), start_new_session=True)
    os.close(w)
    return p, r


def _wait_ready(fd, timeout):
    deadline = time.monotonic() + timeout
    buf = b""
    os.set_blocking(fd, False)
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            time.sleep(0.01)
            continue
        if not chunk:
            return False
        buf += chunk
        if b"READY" in buf:
            return True
    return False


def _stop(p, timeout=30):
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def run(bin_dir, work, server, count):
    """Returns {"out": msgs/s or None, "in": msgs/s or None, "count": count}."""
    bin_dir = Path(bin_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    url = f"amqp://guest:guest@{server}/"
    queue = f"bridge-{time.monotonic_ns()}"
    log = open(work / "bridges.log", "a")
    res = {"out": None, "in": None, "count": count}
    common = (f"url: '{url}', queue: {queue}, durable: false, prefetch: 1000, "
              f"persistent: false")

    def directory():
        s = __import__("socket").socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        return (f"directory: {{endpoints: ['tcp://127.0.0.1:{port}'], heartbeat: 200ms, "
                f"ttl: 2s}}\n")

    topo = work / "bridge-out.yaml"
    topo.write_text(
        "topology: bench-bridge-out\n" + directory() + "channels:\n  work: {}\nnodes:\n"
        f"  source: {{exec: {bin_dir / 'brook-test-source'}, job: true, restart: never, "
        f"drain_timeout: 60s, outputs: {{out: work}}, params: {{count: {count}, body_size: 100}}}}\n"
        f"  bridge: {{exec: {bin_dir / 'brook-amqp-out'}, restart: never, inputs: {{in: work}}, "
        f"params: {{{common}, routing_key: {queue}}}}}\n")
    p, fd = _up(bin_dir, topo, log)
    try:
        if _wait_ready(fd, 30):
            t0 = time.monotonic()
            if p.wait(150) == 0:
                res["out"] = count / (time.monotonic() - t0)
    except subprocess.TimeoutExpired:
        pass
    finally:
        os.close(fd)
        _stop(p)
    if res["out"] is None:
        return res

    timing, journal = work / "bridge-in.timing", work / "bridge-in.journal"
    for f in (timing, journal):
        f.unlink(missing_ok=True)
    topo = work / "bridge-in.yaml"
    topo.write_text(
        "topology: bench-bridge-in\n" + directory() + "channels:\n  work: {}\nnodes:\n"
        f"  bridge: {{exec: {bin_dir / 'brook-amqp-in'}, restart: never, outputs: {{out: work}}, "
        f"params: {{{common}}}}}\n"
        f"  sink: {{exec: {bin_dir / 'brook-test-sink'}, restart: never, inputs: {{in: work}}, "
        f"params: {{timing: '{timing}', journal: '{journal}'}}}}\n")
    p, fd = _up(bin_dir, topo, log)
    try:
        deadline = time.monotonic() + 150
        if _wait_ready(fd, 30):
            # The journal (a line per message, written before each ack) says when all arrived.
            while time.monotonic() < deadline:
                if journal.exists() and journal.read_bytes().count(b"\n") >= count:
                    break
                time.sleep(0.1)
    finally:
        os.close(fd)
        _stop(p)
    if timing.exists():
        n, first, last = (int(x) for x in timing.read_text().split())
        if n >= count and last > first:
            res["in"] = n / ((last - first) / 1e9)
    return res


def markdown(res, peer_confirm):
    def f(v):
        return "—" if v is None else f"{v:,.0f}"

    def ratio(v):
        return "—" if v is None or not peer_confirm else f"{v / peer_confirm:.2f}"

    return ("\n## RabbitMQ bridges (100 B, prefetch 1000, transient)\n\n"
            "| path | msgs/s | ÷ RabbitMQ confirm one-hop |\n|---|---:|---:|\n"
            f"| brook → brook-amqp-out → queue (publisher confirms) | {f(res.get('out'))} | "
            f"{ratio(res.get('out'))} |\n"
            f"| queue → brook-amqp-in → brook (acked after brook's ack) | {f(res.get('in'))} | "
            f"{ratio(res.get('in'))} |\n"
            f"\n{res.get('count', 0):,} messages each; RabbitMQ confirm one-hop (bench peer, "
            f"source → queue → sink with confirms and manual acks): {f(peer_confirm)} msgs/s.\n")
