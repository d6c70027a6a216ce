"""Handler failures in a Python consumer (docs/reliability.md, "Handler failures"): the channel's
retry policy and its dead_letter channel, kept by the C++ brook-dead-letters node and read back
with `brook dead ls`, compared with a C++ consumer failing on the same messages.

Every 7th message fails on its first attempt only, every 50th always; the worker journals a
message only when its handler succeeds, before it returns.
"""

import collections
import json
import os
import subprocess
import unittest

from harness import BIN, NODES, UpTest, read_journal

COUNT = 600
FLAKY = 7
POISON = 50

TOPOLOGY = """topology: py-retry
directory: {endpoints: ['{DIRECTORY}'], heartbeat: 200ms, ttl: 1s}
channels:
  work: {retry: {max_attempts: 3, initial: 50ms}, dead_letter: work-dead}
  work-dead: {}
nodes:
  source: {exec: brook-test-source, job: true, restart: never, outputs: {out: work},
           params: {count: %d, rate: 2000}}
  worker: {exec: '%s', replicas: 2, inputs: {in: work},
           params: {journal: '{DIR}/worker{instance}.txt', flaky_mod: %d, fail_mod: %d,
                    report: '{DIR}/counters{instance}.json'}}
  keeper: {exec: brook-dead-letters, inputs: {in: work-dead}, params: {store: '{DIR}/dead.jsonl'}}
"""


class Retry(UpTest):
    def run_worker(self, exec_):
        """(brook up's exit status, handled n -> count, `brook dead ls --json` letters)."""
        self.topology(TOPOLOGY % (COUNT, exec_, FLAKY, POISON))
        self.up("--log-level", "info")
        code = self.wait_up(50)
        handled = collections.Counter()
        for i in range(2):
            for _, n, _ in read_journal(os.path.join(self.dir, "worker%d.txt" % i)):
                handled[n] += 1
        ls = subprocess.run([os.path.join(BIN, "brook"), "dead", "ls", "work-dead",
                             "--topology", self.file, "--json"], capture_output=True, text=True,
                            timeout=20, env=self.env(), cwd=self.dir)
        self.assertEqual(ls.returncode, 0, ls.stderr)
        return code, handled, json.loads(ls.stdout)["dead_letters"]

    def check(self, exec_, worker_is_python):
        code, handled, letters = self.run_worker(exec_)
        log = self.log()
        poison = {n for n in range(1, COUNT + 1) if n % POISON == 0}
        # brook up reports dead letters as failures: exit 1, for a C++ consumer as for this one.
        self.assertEqual(code, 1, log[-6000:])
        self.assertIn("%d message(s) dead-lettered" % len(poison), log)
        self.assertEqual(set(handled), set(range(1, COUNT + 1)) - poison, log[-3000:])
        self.assertEqual(max(handled.values()), 1, "a retried message handled twice")
        dead = {}
        for d in letters:
            self.assertEqual(d["channel"], "work")
            self.assertEqual(d["dead_channel"], "work-dead")
            self.assertEqual(d["attempts"], 3)
            self.assertEqual(d["type"], "brook.test.Msg")
            self.assertRegex(d["node"], r"^worker\.[01]$")
            self.assertRegex(d["producer"], r"^source\.0@")
            self.assertTrue(d["error"].startswith("poison message "), d)
            n = int(d["error"].split()[-1])
            self.assertNotIn(n, dead, "dead-lettered twice")
            dead[n] = d
        self.assertEqual(set(dead), poison, "every poison message in the store, nothing else")
        show = subprocess.run([os.path.join(BIN, "brook"), "dead", "show", "work-dead",
                               "--topology", self.file, "--id", str(letters[0]["id"]), "--json"],
                              capture_output=True, text=True, timeout=20, env=self.env(),
                              cwd=self.dir)
        self.assertEqual(show.returncode, 0, show.stderr)
        letter = json.loads(show.stdout)
        self.assertEqual(letter["payload"]["n"], int(letter["error"].split()[-1]))
        self.assertEqual(letter["headers"], {}, "the store keeps the reason headers as fields")
        if worker_is_python:
            total = collections.Counter()
            for i in range(2):
                with open(os.path.join(self.dir, "counters%d.json" % i)) as f:
                    total.update(json.load(f)["work"])
            flaky = {n for n in range(1, COUNT + 1) if n % FLAKY == 0} - poison
            self.assertEqual(total["retried"], len(flaky) + 2 * len(poison))
            self.assertEqual(total["handler_errors"], len(flaky) + 3 * len(poison))
            self.assertEqual(total["dead_lettered"], len(poison))
            self.assertEqual(total["received"], COUNT)
        return code, letters

    def test_python_consumer_retries_then_dead_letters(self):
        code, letters = self.check(os.path.join(NODES, "py_relay.py"), True)
        print("python worker: %d dead letters, brook up exit %d" % (len(letters), code))

    def test_cpp_consumer_does_the_same(self):
        code, letters = self.check("brook-test-sink", False)
        print("C++ worker: %d dead letters, brook up exit %d" % (len(letters), code))


if __name__ == "__main__":
    unittest.main()
