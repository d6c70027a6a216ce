"""A Python node with redundant directories (docs/directory.md#several-directories): it
registers with every endpoint the topology lists and uses the union of what they say, so a
consumer that appears while the first directory is down is found through the second."""

import json
import os
import signal
import subprocess

from harness import BIN, UpTest, free_port, read_journal, wait_for


class Directories(UpTest):
    def start_directory(self, endpoint, n):
        log = open(os.path.join(self.dir, "directory%d.log" % n), "w")
        p = subprocess.Popen([os.path.join(BIN, "brook-directory"), "--bind", endpoint],
                             stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: (p.poll() is None and p.kill(), p.wait(), log.close()))
        return p

    def listed(self, endpoint):
        r = subprocess.run([os.path.join(BIN, "brook"), "ls", "--json", "-d", endpoint],
                           capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            return set()
        return {i["name"] for i in json.loads(r.stdout)["instances"]}

    def start_sink(self, instance):
        log = open(os.path.join(self.dir, "sink%d.log" % instance), "w")
        p = subprocess.Popen([os.path.join(BIN, "brook-test-sink"), "--topology", self.file,
                              "--node", "sink", "--instance", str(instance)],
                             stdout=log, stderr=subprocess.STDOUT, env=self.env())
        self.addCleanup(lambda: (p.poll() is None and p.kill(), p.wait(), log.close()))
        return p

    def test_python_source_uses_every_directory(self):
        e1 = "tcp://127.0.0.1:%d" % free_port()
        e2 = "tcp://127.0.0.1:%d" % free_port()
        d1 = self.start_directory(e1, 1)
        self.start_directory(e2, 2)
        self.topology("""topology: py-directories
directory: {endpoints: ['%s', '%s'], external: true, heartbeat: 200ms, ttl: 1s}
channels: {work: {}}
nodes:
  source: {exec: '{NODES}/py_source.py', job: true, restart: never, outputs: {out: work},
           params: {count: 3000, rate: 300}}
  sink: {exec: brook-test-sink, replicas: 2, inputs: {in: work},
         params: {journal: '{DIR}/sink{instance}.txt'}}
""" % (e1, e2))
        journals = [os.path.join(self.dir, "sink%d.txt" % i) for i in range(2)]
        sink0 = self.start_sink(0)
        self.up("--no-directory", "--only", "source")
        for ep in (e1, e2):
            wait_for(lambda: {"source.0", "sink.0"} <= self.listed(ep), 20,
                     "source.0 registered with %s" % ep)
        wait_for(lambda: len(read_journal(journals[0])) >= 300, 20, "messages at sink.0")
        d1.send_signal(signal.SIGKILL)
        d1.wait(5)
        sink1 = self.start_sink(1)
        # Only directory 2 can tell the Python source about sink.1.
        wait_for(lambda: read_journal(journals[1]), 20, "messages at sink.1, the late consumer")
        self.assertEqual(self.wait_up(40), 0, self.log()[-6000:])
        for p in (sink0, sink1):
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(20), 0)
        got = [n for j in journals for _, n, _ in read_journal(j)]
        self.assertEqual(sorted(got), list(range(1, 3001)))
