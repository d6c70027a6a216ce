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

from harness import BIN, PYTHON_DIR, UpTest, read_journal, wait_for

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
