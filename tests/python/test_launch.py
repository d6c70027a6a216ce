"""The launch contract of a Python node without `brook up`: a hand-written resolved file (or
`brook resolve`), a real brook-directory, and the test itself as the other side of the wire."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import unittest

from harness import BIN, NODES, PYTHON_DIR, channel, free_port, resolved


class Launch(unittest.TestCase):
    """The launch contract without `brook up`: a hand-written resolved file, a real directory,
    and this test as the producer (a DEALER, which wire.md allows)."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="brook-py-launch-")
        self.procs = []
        self.files = []

    def tearDown(self):
        for f in self.files:
            f.close()
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        subprocess.run(["rm", "-rf", self.dir])

    def start_directory(self):
        self.endpoint = "tcp://127.0.0.1:%d" % free_port()
        r, w = os.pipe()
        env = dict(os.environ, BROOK_READY_FD=str(w))
        d = subprocess.Popen([os.path.join(BIN, "brook-directory"), "--bind", self.endpoint,
                              "--ttl", "1s", "--heartbeat", "200ms"], pass_fds=[w], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(d)
        os.close(w)
        with os.fdopen(r) as f:
            self.assertTrue(f.readline().startswith("READY router="))

    def start_node(self, doc, script="py_relay.py"):
        path = os.path.join(self.dir, "resolved.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        ready_r, ready_w = os.pipe()
        report_r, report_w = os.pipe()
        env = dict(os.environ, BROOK_RESOLVED=path, BROOK_READY_FD=str(ready_w),
                   BROOK_REPORT_FD=str(report_w), BROOK_LOG_FORMAT="plain",
                   PYTHONPATH=PYTHON_DIR)
        p = subprocess.Popen([sys.executable, os.path.join(NODES, script), "--topology",
                              doc["file"], "--node", doc["node"], "--instance", "0"],
                             pass_fds=[ready_w, report_w], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        self.procs.append(p)
        os.close(ready_w)
        os.close(report_w)
        files = (os.fdopen(ready_r), os.fdopen(report_r))
        self.files += [*files, p.stdout]
        return (p, *files)

    def test_ready_and_stopped_lines_and_graceful_exit(self):
        import msgpack
        import zmq
        from brook import envelope
        self.start_directory()
        doc = resolved("echo", self.endpoint, inputs={"in": "work"},
                       channels={"work": channel(producers=["test"], consumers=["echo"])},
                       params={"types": ["brook.test.Msg"]})
        p, ready, report = self.start_node(doc)
        line = ready.readline()
        self.assertRegex(line, r"^READY echo\.0@[0-9a-f]{16} in=tcp://127\.0\.0\.1:\d+\n$")
        ep = line.split("in=")[1].strip()
        ctx = zmq.Context()
        dealer = ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(ep)
        payload = envelope.pack_payload({"n": 1, "source": "test.0", "body": ""})
        for _ in range(2):  # the same frame twice: handled once, acknowledged twice
            dealer.send(envelope.encode("test.0@00000000deadbeef", 1, "work", "brook.test.Msg",
                                        payload))
        # Another type: a decode error, acknowledged and never handled.
        dealer.send(envelope.encode("test.0@00000000deadbeef", 2, "work", "other.Type", payload))
        acked = []
        while len(acked) < 3:  # in one ack frame or more
            self.assertTrue(dealer.poll(10000), "acknowledgements")
            version, kind, seqs = msgpack.unpackb(dealer.recv())
            self.assertEqual((version, kind), (1, "ack"))
            acked += seqs
        self.assertEqual(sorted(acked), [1, 1, 2])
        p.send_signal(signal.SIGTERM)
        self.assertTrue(dealer.poll(10000), "a drain frame at stop")
        self.assertEqual(msgpack.unpackb(dealer.recv()), [1, "drain"])
        self.assertEqual(p.wait(20), 0, p.stdout.read())
        stopped = report.readline()
        self.assertTrue(stopped.startswith("STOPPED "), stopped)
        self.assertIn("work:received=1", stopped)
        self.assertIn("work:duplicates=1", stopped)
        self.assertIn("work:decode_errors=1", stopped)
        dealer.close()
        ctx.term()

    def test_tells_systemd_ready_watchdog_and_stopping(self):
        import socket
        import time
        self.start_directory()
        sock_path = os.path.join(self.dir, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(10)
        health = os.path.join(self.dir, "health")
        os.environ.update(NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="400000",
                          BROOK_HEALTH_FILE=health)
        try:
            doc = resolved("echo", self.endpoint, inputs={"in": "work"},
                           channels={"work": channel(producers=["test"], consumers=["echo"])},
                           params={"types": ["brook.test.Msg"]})
            doc["directory"].update(heartbeat_ms=1000, ttl_ms=3000)
            p, ready, report = self.start_node(doc)
        finally:
            for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "BROOK_HEALTH_FILE"):
                os.environ.pop(k)

        def wait_datagram(what):
            while True:  # the socket's timeout ends it
                got = sock.recv(4096).decode()
                if what in got:
                    return got

        self.assertRegex(wait_datagram("READY=1"), r"^READY=1\nSTATUS=ready echo\.0@")
        began = time.monotonic()
        for _ in range(3):  # every 200 ms: half WATCHDOG_USEC, not the 1 s heartbeat
            wait_datagram("WATCHDOG=1")
        self.assertLess(time.monotonic() - began, 0.9)
        with open(health) as f:
            state, at = f.read().split()
        self.assertEqual(state, "ready")
        self.assertLess(abs(int(at) - time.time()), 3)
        p.send_signal(signal.SIGTERM)
        self.assertEqual(wait_datagram("STOPPING=1"), "STOPPING=1\nSTATUS=stopping (SIGTERM)")
        self.assertEqual(p.wait(20), 0, p.stdout.read())
        sock.close()

    def test_started_by_hand_it_runs_brook_resolve(self):
        self.start_directory()
        topology = os.path.join(self.dir, "t.yaml")
        with open(topology, "w") as f:
            f.write("""topology: py-hand
directory: {endpoints: ['%s'], heartbeat: 200ms, ttl: 1s, external: true}
channels: {work: {external: true, hwm: 77}}
nodes:
  echo: {exec: ./py_relay.py, replicas: 2, inputs: {in: work}, params: {types: [x.Y]}}
""" % self.endpoint)
        r, w = os.pipe()
        env = dict(os.environ, BROOK_BIN=os.path.join(BIN, "brook"), BROOK_READY_FD=str(w),
                   PYTHONPATH=PYTHON_DIR, BROOK_LOG_FORMAT="plain")
        env.pop("BROOK_RESOLVED", None)
        p = subprocess.Popen([sys.executable, os.path.join(NODES, "py_relay.py"), "--topology",
                              topology, "--node", "echo", "--instance", "1"], pass_fds=[w],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.procs.append(p)
        os.close(w)
        with os.fdopen(r) as ready:
            self.assertRegex(ready.readline(), r"^READY echo\.1@[0-9a-f]{16} in=tcp://")
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(20), 0, p.stdout.read())
        p.stdout.close()
        bad = subprocess.run([sys.executable, os.path.join(NODES, "py_relay.py"), "--topology",
                              topology, "--node", "echo", "--instance", "2"], env=env,
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(bad.returncode, 2, bad.stderr)
        self.assertIn("brook resolve", bad.stderr)

    def test_curve_is_refused_with_exit_2(self):
        doc = resolved("echo", "tcp://127.0.0.1:1", inputs={"in": "work"}, mechanism="curve",
                       channels={"work": channel(consumers=["echo"])})
        p, _, _ = self.start_node(doc)
        out = p.communicate(timeout=20)[0]
        self.assertEqual(p.returncode, 2, out)
        self.assertIn("security mechanism 'curve'", out)
        self.assertIn("docs/python.md", out)

    def test_a_missing_handler_is_exit_2(self):
        doc = resolved("echo", "tcp://127.0.0.1:1", inputs={"in": "work", "other": "work"},
                       channels={"work": channel(consumers=["echo"])})
        p, _, _ = self.start_node(doc)
        out = p.communicate(timeout=20)[0]
        self.assertEqual(p.returncode, 2, out)
        self.assertIn("input port 'other' has no handler", out)

    def register(self, ctx, node, registrations):
        """Registers node.0 with the test's directory through a DEALER of its own."""
        import msgpack
        import zmq
        dealer = ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(self.endpoint)
        dealer.send(msgpack.packb({
            "v": 3, "op": "register", "id": 1, "node": node, "instance": 0,
            "incarnation": "00000000000000aa", "host": "test", "pid": os.getpid(),
            "lease_ms": 60000, "topology": "py-launch", "registrations": registrations}))
        self.assertTrue(dealer.poll(10000))
        self.assertTrue(msgpack.unpackb(dealer.recv())["ok"])
        return dealer

    def test_the_seventeenth_tap_is_refused(self):
        import msgpack
        import zmq
        self.start_directory()
        doc = resolved("source", self.endpoint, outputs={"out": "work"},
                       channels={"work": channel(producers=["source"])},
                       params={"count": 1000000, "rate": 200})
        p, ready, _ = self.start_node(doc, "py_source.py")
        self.assertTrue(ready.readline().startswith("READY source.0@"))
        ctx = zmq.Context()
        pulls, dealers = [], []
        for i in range(17):
            pull = ctx.socket(zmq.PULL)
            pull.setsockopt(zmq.LINGER, 0)
            port = pull.bind_to_random_port("tcp://127.0.0.1")
            pulls.append(pull)
            dealers.append(self.register(ctx, "tap%d" % i, [{
                "channel": "work", "dir": "in", "pattern": "pipeline", "tap": True,
                "endpoint": "tcp://127.0.0.1:%d" % port, "port": "in"}]))
        refused, copies = 0, 0
        for pull in pulls:
            self.assertTrue(pull.poll(10000), "a copy or a refusal for every tap")
            frame = pull.recv()
            if frame.startswith(b"\x93\x01\xabtap-refused"):
                refused += 1
                self.assertEqual(msgpack.unpackb(frame)[2]["limit"], 16)
            else:
                copies += 1
        self.assertEqual((copies, refused), (16, 1))
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(20), 0)
        for s in pulls + dealers:
            s.close()
        ctx.term()

    def test_unacknowledged_output_at_stop_is_exit_1(self):
        import zmq
        from brook import envelope
        self.start_directory()
        ctx = zmq.Context()
        consumer = ctx.socket(zmq.ROUTER)  # a replica that takes everything, acknowledges nothing
        consumer.setsockopt(zmq.LINGER, 0)
        port = consumer.bind_to_random_port("tcp://127.0.0.1")
        dealer = self.register(ctx, "sink", [{
            "channel": "work", "dir": "in", "pattern": "pipeline", "tap": False,
            "endpoint": "tcp://127.0.0.1:%d" % port, "port": "in"}])
        work = channel(producers=["source"], consumers=["sink"])
        work["ack_timeout_ms"] = 100
        doc = resolved("source", self.endpoint, outputs={"out": "work"},
                       channels={"work": work}, params={"count": 10})
        doc["drain_timeout_ms"] = 1000
        p, ready, report = self.start_node(doc, "py_source.py")
        frames = {}
        resent = None
        while resent is None:  # the ten, then a re-send after ack_timeout
            self.assertTrue(consumer.poll(10000), "the source's messages")
            _, frame = consumer.recv_multipart()
            seq = envelope.decode(frame).seq
            if seq in frames:
                resent = seq
                self.assertEqual(frame, frames[seq], "a re-send is the identical frame")
            frames[seq] = frame
        self.assertEqual(sorted(frames), list(range(1, 11)))
        self.assertEqual(p.wait(20), 1, p.stdout.read())
        stopped = report.readline()
        self.assertIn("work:emitted=10", stopped)
        self.assertIn("work:in_flight=10", stopped)
        self.assertRegex(stopped, r"work:redelivered=\d+")
        consumer.close()
        dealer.close()
        ctx.term()


if __name__ == "__main__":
    unittest.main()
