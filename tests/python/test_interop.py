"""Python and C++ brook nodes on one topology under `brook up` (docs/python.md).

Each test is its own CTest entry (tests/python/CMakeLists.txt); BROOK_TEST_BIN names the build's
bin directory. Every count comes from the sinks' journals, written before each message is
acknowledged, so they survive SIGKILL.
"""

import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import signal

from harness import (BIN, NODES, PYTHON_DIR, UpTest, channel, free_port, read_journal,
                     resolved, wait_for)

HEADER = """topology: py-interop
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s}
"""


def delivered(paths):
    """(set of n, duplicates) over the journals."""
    seen = collections.Counter()
    for p in paths:
        for _, n, _ in read_journal(p):
            seen[n] += 1
    return set(seen), sum(c - 1 for c in seen.values())


class Interop(UpTest):
    def journals(self, name, replicas):
        return [os.path.join(self.dir, "%s%d.txt" % (name, i)) for i in range(replicas)]

    def run_job(self, text, sink, replicas, count, timeout=50):
        self.topology(HEADER + text)
        self.up()
        code = self.wait_up(timeout)
        got, dups = delivered(self.journals(sink, replicas))
        self.assertEqual(code, 0, self.log()[-6000:])
        self.assertEqual(got, set(range(1, count + 1)), self.log()[-3000:])
        self.assertEqual(dups, 0)
        return got

    def test_cpp_source_python_relay_cpp_sink(self):
        self.run_job("""channels: {work: {}, done: {}}
nodes:
  source: {exec: brook-test-source, job: true, restart: never, outputs: {out: work},
           params: {count: 2000, rate: 2000}}
  relay: {exec: '{NODES}/py_relay.py', replicas: 2, inputs: {in: work}, outputs: {out: done}}
  sink: {exec: brook-test-sink, replicas: 2, inputs: {in: done},
         params: {journal: '{DIR}/sink{instance}.txt'}}
""", "sink", 2, 2000)

    def test_python_source_cpp_sink(self):
        self.run_job("""channels: {work: {}}
nodes:
  source: {exec: '{NODES}/py_source.py', job: true, restart: never, outputs: {out: work},
           params: {count: 3000}}
  sink: {exec: brook-test-sink, replicas: 2, inputs: {in: work},
         params: {journal: '{DIR}/sink{instance}.txt'}}
""", "sink", 2, 3000)

    def test_python_source_best_effort_python_sink(self):
        self.run_job("""channels: {work: {delivery: best-effort}}
nodes:
  source: {exec: '{NODES}/py_source.py', job: true, restart: never, outputs: {out: work},
           params: {count: 1000, rate: 2000}}
  sink: {exec: '{NODES}/py_relay.py', inputs: {in: work},
         params: {journal: '{DIR}/sink{instance}.txt'}}
""", "sink", 1, 1000)

    def test_python_producer_orders_by_key(self):
        self.run_job("""channels: {work: {order_by: key}}
nodes:
  source: {exec: '{NODES}/py_source.py', job: true, restart: never, outputs: {out: work},
           params: {count: 2000, rate: 2000, keys: 8}}
  sink: {exec: brook-test-sink, replicas: 2, inputs: {in: work},
         params: {journal: '{DIR}/sink{instance}.txt'}}
""", "sink", 2, 2000)
        owner = {}
        for i, path in enumerate(self.journals("sink", 2)):
            per_key = collections.defaultdict(list)
            with open(path) as f:
                for line in f:
                    _, n, _, key = line.split()[:4]
                    per_key[key].append(int(n))
            for key, ns in per_key.items():
                self.assertEqual(ns, sorted(ns), "key %s out of order at sink.%d" % (key, i))
                self.assertNotIn(key, owner, "key %s at both replicas" % key)
                owner[key] = i
        self.assertEqual(len(owner), 8)

    def kill_mid_stream(self, text, victim, count):
        self.topology(HEADER + text)
        self.up()
        journal = os.path.join(self.dir, "sink1.txt")
        wait_for(lambda: len(read_journal(journal)) >= 200, 30, "200 messages at %s.1" % victim)
        self.kill(victim, 1)
        code = self.wait_up(55)
        got, dups = delivered(self.journals("sink", 2))
        self.assertEqual(code, 0, self.log()[-6000:])
        self.assertEqual(set(range(1, count + 1)) - got, set(), "lost\n" + self.log()[-3000:])
        print("%s.1 killed: %d delivered, %d duplicates" % (victim, len(got), dups))

    def test_cpp_sink_replica_killed_under_a_python_producer(self):
        self.kill_mid_stream("""channels: {work: {}}
nodes:
  source: {exec: '{NODES}/py_source.py', job: true, restart: never, outputs: {out: work},
           params: {count: 3000, rate: 1000}}
  sink: {exec: brook-test-sink, replicas: 2, inputs: {in: work},
         params: {journal: '{DIR}/sink{instance}.txt'}}
""", "sink", 3000)

    def test_python_consumer_replica_killed(self):
        self.kill_mid_stream("""channels: {work: {}}
nodes:
  source: {exec: brook-test-source, job: true, restart: never, outputs: {out: work},
           params: {count: 3000, rate: 1000}}
  sink: {exec: '{NODES}/py_relay.py', replicas: 2, inputs: {in: work},
         params: {journal: '{DIR}/sink{instance}.txt'}}
""", "sink", 3000)

    def test_pubsub_cpp_publisher_python_subscriber(self):
        self.run_job("""channels: {news: {pattern: pubsub}}
nodes:
  source: {exec: brook-test-source, job: true, restart: never, outputs: {out: news},
           params: {count: 500, rate: 1000}}
  sink: {exec: '{NODES}/py_relay.py', replicas: 2, inputs: {in: news},
         params: {journal: '{DIR}/sink{instance}.txt'}}
""", "sink", 1, 500)  # every instance gets every message: sink.0's journal has them all
        got, _ = delivered([os.path.join(self.dir, "sink1.txt")])
        self.assertEqual(got, set(range(1, 501)))

    def test_pubsub_python_publisher_cpp_subscriber(self):
        self.run_job("""channels: {news: {pattern: pubsub}}
nodes:
  source: {exec: '{NODES}/py_source.py', job: true, restart: never, outputs: {out: news},
           params: {count: 500, rate: 1000}}
  sink: {exec: brook-test-sink, replicas: 2, inputs: {in: news},
         params: {journal: '{DIR}/sink{instance}.txt'}}
""", "sink", 1, 500)
        got, _ = delivered([os.path.join(self.dir, "sink1.txt")])
        self.assertEqual(got, set(range(1, 501)))

    def test_tap_sees_a_python_producer(self):
        self.topology(HEADER + """channels: {work: {}}
nodes:
  source: {exec: '{NODES}/py_source.py', outputs: {out: work}, params: {count: 1000000, rate: 200}}
  sink: {exec: brook-test-sink, inputs: {in: work}, params: {journal: '{DIR}/sink0.txt'}}
""")
        self.up()
        wait_for(lambda: read_journal(os.path.join(self.dir, "sink0.txt")), 30, "the sink")
        tap = subprocess.run([os.path.join(BIN, "brook"), "tap", "work", "-t", self.file,
                              "-n", "5", "--duration", "20s"], capture_output=True, text=True,
                             timeout=40, env=self.env())
        self.assertEqual(tap.returncode, 0, tap.stderr)
        lines = [json.loads(x) for x in tap.stdout.splitlines() if x.strip()]
        self.assertEqual(len(lines), 5, tap.stdout + tap.stderr)
        self.assertIn("source.0@", json.dumps(lines[0]))
        self.assertEqual(self.stop(), 0, self.log()[-4000:])


class Install(unittest.TestCase):
    def test_pip_installs_into_a_venv(self):
        with tempfile.TemporaryDirectory() as d:
            venv = os.path.join(d, "venv")
            subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv],
                           check=True, timeout=50)
            src = os.path.join(d, "src")  # pip writes build/ and *.egg-info next to it
            shutil.copytree(PYTHON_DIR, src, ignore=shutil.ignore_patterns("__pycache__"))
            pip = subprocess.run([os.path.join(venv, "bin", "pip"), "install", "--no-index",
                                  "--no-build-isolation", src], capture_output=True,
                                 text=True, timeout=50, cwd=d)
            self.assertEqual(pip.returncode, 0, pip.stdout + pip.stderr)
            r = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                                "import brook, os; print(brook.__file__)"],
                               capture_output=True, text=True, cwd=d, timeout=20,
                               env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.startswith(venv), r.stdout)


if __name__ == "__main__":
    unittest.main()


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
