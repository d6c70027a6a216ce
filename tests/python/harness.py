"""Helpers for the Python interop tests: `brook up` on a topology written to a temporary
directory, waiting on conditions with deadlines (no sleeps), journals of the test sinks."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("BROOK_TEST_BIN", os.path.join(ROOT, "build", "bin"))
NODES = os.path.join(ROOT, "tests", "python", "nodes")
PYTHON_DIR = os.path.join(ROOT, "python")
sys.path.insert(0, PYTHON_DIR)  # the tests use the package's codec too


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout, what):
    """Polls cond() until true; fails naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.02)  # a polling interval, not a wait for an event
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


def read_journal(path):
    """[(source, n, seq)] from a sink journal ("source n seq key reason" lines)."""
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and line.endswith("\n"):
                out.append((parts[0], int(parts[1]), int(parts[2])))
    return out


class UpTest(unittest.TestCase):
    """Each test writes a topology and runs `brook up` on it."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="brook-py-")
        self.proc = None
        self.log_path = os.path.join(self.dir, "up.log")

    def tearDown(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            self.log_file.close()
        if os.environ.get("BROOK_TEST_KEEP"):
            print("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def env(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = PYTHON_DIR + os.pathsep + env.get("PYTHONPATH", "")
        env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
        env.pop("BROOK_RESOLVED", None)
        return env

    def topology(self, text):
        self.endpoint = "tcp://127.0.0.1:%d" % free_port()
        text = (text.replace("{DIRECTORY}", self.endpoint).replace("{DIR}", self.dir)
                .replace("{NODES}", NODES))
        self.file = os.path.join(self.dir, "topology.yaml")
        with open(self.file, "w") as f:
            f.write(text)
        return self.file

    def up(self, *extra):
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen([os.path.join(BIN, "brook"), "up", self.file, "--quiet",
                                      "--no-color", *extra], stdout=self.log_file,
                                     stderr=subprocess.STDOUT, env=self.env(), cwd=self.dir)
        return self.proc

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_up(self, timeout=50):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.fail("brook up still running after %d s:\n%s" % (timeout, self.log()[-6000:]))

    def wait_log(self, text, timeout=20):
        wait_for(lambda: text in self.log(), timeout, "'%s' in the log" % text)

    def pid_of(self, node, instance):
        """The pid of the running replica node.instance of this test's topology."""
        want = {"--topology": self.file, "--node": node, "--instance": str(instance)}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    args = f.read().decode(errors="replace").split("\0")
            except OSError:
                continue
            if all(k in args[:-1] and args[args.index(k) + 1] == v for k, v in want.items()):
                return int(pid)
        return None

    def kill(self, node, instance):
        pid = wait_for(lambda: self.pid_of(node, instance), 10, "%s.%d" % (node, instance))
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        return self.wait_up(30)


def channel(pattern="pipeline", delivery="at-least-once", producers=(), consumers=()):
    """One channel's resolved settings with the defaults of docs/topology.md."""
    return {"pattern": pattern, "delivery": delivery, "max_message_size": 1048576, "hwm": 1000,
            "max_pending": 10000, "on_full": "block", "block_timeout_ms": 1000,
            "ack_timeout_ms": 5000, "window": 10000,
            "retry": {"max_attempts": 1, "initial_ms": 100, "max_ms": 5000},
            "dead_letter": None, "order_by": None, "timeout_ms": 5000, "idempotent": False,
            "external": False, "producers": [{"node": n, "replicas": 1} for n in producers],
            "consumers": [{"node": n, "replicas": 1} for n in consumers]}


def resolved(node, directory, inputs=None, outputs=None, channels=None, mechanism="none",
             params=None):
    """A resolved settings document (schema version 1) as `brook resolve --json` prints it."""
    return {"version": 1, "topology": "py-launch", "file": "/nonexistent/py-launch.yaml",
            "node": node, "instance": 0, "instance_name": node + ".0", "replicas": 1,
            "job": False, "params": params or {}, "env": {}, "advertise": "127.0.0.1",
            "state_dir": "/tmp/.brook-state", "ready_timeout_ms": 5000, "drain_timeout_ms": 2000,
            "directory": {"endpoints": [directory], "ttl_ms": 1000, "heartbeat_ms": 200,
                          "external": True},
            "security": {"mechanism": mechanism, "keys": None, "handshake_timeout_ms": 2000},
            "inputs": {p: {"channel": c} for p, c in (inputs or {}).items()},
            "outputs": {p: {"channel": c, "durable": False, "fsync": "batch"}
                        for p, c in (outputs or {}).items()},
            "channels": channels or {}}
