"""brook.Node: one instance of a topology's node, on a single-threaded poll loop.

    node = brook.Node()
    @node.on("in")
    def handle(msg): node.emit("out", {"n": msg.payload["n"] * 2}, key=msg.key)
    raise SystemExit(node.run())
"""

import logging
import os
import sys
import time

import zmq

from .counters import ChannelCounters
from .dead_letters import DeadLetters
from .directory import DirectorySession
from .errors import ConfigError
from .lifecycle import Liveness, SignalPipe, log_setup, sd_notify, write_fd_line
from .outputs import Output
from .receivers import PullInput, RouterInput, SubInput
from .settings import load
from .handling import Handling, LogLimiter
from .retry import Backoff, RetryQueue
from .stopping import Stopping
from .timers import Timers

log = logging.getLogger("brook")



def fail_config(e):
    sys.stderr.write("error: %s\n" % e)
    sys.stderr.flush()
    raise SystemExit(2)


class Node(Handling, DeadLetters, Stopping):
    def __init__(self, argv=None):
        try:
            self.settings, self.args, level = load(sys.argv[1:] if argv is None else argv)
        except ConfigError as e:
            fail_config(e)
        s = self.settings
        self.name = s["node"]
        self.instance = s["instance"]
        self.instance_name = "%s.%d" % (self.name, self.instance)
        self.incarnation = os.urandom(8).hex()
        self.producer_id = "%s@%s" % (self.instance_name, self.incarnation)
        self.token = os.urandom(16).hex()
        self.params = s.get("params") or {}
        log_setup(level, self.instance_name, self.name, s.get("log_format"))
        self.handlers = {}
        self.types = {}  # port -> envelope types its handler takes
        self.timers = Timers()
        self.ready_callbacks = []
        self.stop_callbacks = []
        self.stop_requested = False
        self.running = False
        self.exit_code = 0
        self.counters = {}
        self.current = None      # (message, hold) of the handler running now
        self.pass_out = []       # what the running handler emitted
        self.holds_open = 0
        self.retries = RetryQueue()   # failed handler calls waiting for their next attempt
        self.backoff = Backoff()
        self.failure_log = LogLimiter()
        self.dead_letter_out = {}
        self.last_input = 0.0
        self.loop_iterations = 0

    # -- the user's API --------------------------------------------------------------------------

    def on(self, port, types=None):
        """Decorator: handler(msg) for every message on input `port`; with `types` (names) only
        for those envelope types, others being decode errors (acknowledged, never handled)."""
        if port not in self.settings["inputs"]:
            fail_config("node '%s' has no input port '%s' in %s (inputs: %s)"
                        % (self.name, port, self.settings.get("file"),
                           ", ".join(sorted(self.settings["inputs"])) or "none"))
        if port in self.handlers:
            fail_config("a second handler for input port '%s'" % port)

        def register(fn):
            self.handlers[port] = fn
            if types is not None:
                self.types[port] = frozenset([types] if isinstance(types, str) else types)
            return fn
        return register

    def every(self, seconds, fn):
        return self.timers.add(seconds, fn, period=seconds)

    def after(self, seconds, fn):
        return self.timers.add(seconds, fn)

    def cancel(self, timer_id):
        self.timers.cancel(timer_id)

    def on_ready(self, fn):
        self.ready_callbacks.append(fn)
        return fn

    def on_stop(self, fn):
        self.stop_callbacks.append(fn)
        return fn

    def stop(self):
        self.stop_requested = True

    def run(self):
        """Runs until stopped (SIGTERM, SIGINT, stop()); returns the exit status."""
        try:
            for port in self.settings["inputs"]:
                if port not in self.handlers:
                    raise ConfigError("input port '%s' has no handler: add @node.on('%s')"
                                      % (port, port))
            self.start()
        except ConfigError as e:
            fail_config(e)
        self.running = True
        try:
            while not self.stop_requested:
                self.serve(self.next_wake())
                if not self.is_ready:
                    self.check_ready()
                self.timers.run_due(lambda: self.stop_requested)
                self.liveness.tick(time.monotonic(), "ready" if self.is_ready else "starting")
                self.loop_iterations += 1
            return self.shutdown()
        finally:
            self.running = False

    # -- start ----------------------------------------------------------------------------------

    def chan(self, name):
        c = dict(self.settings["channels"][name])
        c["name"] = name
        return c

    def counters_of(self, channel):
        return self.counters.setdefault(channel, ChannelCounters())

    def start(self):
        s = self.settings
        self.started = time.monotonic()
        self.ctx = zmq.Context()
        self.linger_ms = s["drain_timeout_ms"]
        hs = s["security"].get("handshake_timeout_ms", 2000)
        self.inputs = {}
        for port, spec in s["inputs"].items():
            ch = self.chan(spec["channel"])
            # Bound at "bind" (the advertise address unless --bind said otherwise), registered
            # under "advertise".
            listen = (s.get("bind") or s["advertise"], s["advertise"])
            args = (self.ctx, port, ch, listen, self.counters_of(ch["name"]),
                    self.linger_ms, hs)
            if ch["pattern"] == "pubsub":
                self.inputs[port] = SubInput(*args, self.producer_id)
            elif ch["delivery"] == "best-effort":
                self.inputs[port] = PullInput(*args)
            else:
                self.inputs[port] = RouterInput(*args)
        self.outputs = {}
        for port, spec in s["outputs"].items():
            if spec.get("durable"):
                raise ConfigError("output '%s' is durable, which the brook Python package does "
                                  "not implement (docs/python.md)" % port)
            ch = self.chan(spec["channel"])
            self.outputs[port] = Output(self.ctx, port, spec, ch, self.producer_id,
                                        self.counters_of(ch["name"]), self.linger_ms, hs)
        self.make_dead_letter_outputs(hs)
        regs = []
        for port, inp in self.inputs.items():
            regs.append({"channel": inp.name, "dir": "in", "pattern": inp.channel["pattern"],
                         "endpoint": inp.endpoint, "port": port, "tap": False})
        for port, out in self.outputs.items():
            regs.append({"channel": out.name, "dir": "out", "pattern": out.channel["pattern"],
                         "endpoint": "", "port": port, "tap": False})
        d = s["directory"]
        identity = {"node": self.name, "instance": self.instance, "incarnation": self.incarnation,
                    "topology": s["topology"], "token": self.token}
        self.sessions = [DirectorySession(self.ctx, ep, identity, regs, d["ttl_ms"],
                                          d["heartbeat_ms"], self, hs)
                         for ep in d["endpoints"]]
        for sess in self.sessions:
            sess.counters = self.heartbeat_counters
        self.entry_refs = {}
        self.registered_with = set()
        self.is_ready = False
        self.wake = 0
        self.more_input = False
        self.ready_deadline = self.started + s["ready_timeout_ms"] / 1000.0
        self.liveness = Liveness(d["heartbeat_ms"] / 1000.0)
        self.signals = SignalPipe(self.stop)
        self.poller = zmq.Poller()
        self.dispatch = {}
        self.rebuild_poller()
        log.info("starting %s (topology %s, %d inputs, %d outputs, directory %s)",
                 self.producer_id, s["topology"], len(self.inputs), len(self.outputs),
                 ", ".join(d["endpoints"]))

    def rebuild_poller(self):
        self.poller = zmq.Poller()
        self.dispatch = {}
        self.input_socks = set()
        for sess in self.sessions:
            self.watch(sess.dealer, sess.on_dealer)
            self.watch(sess.sub, sess.on_sub)
        for out in self.outputs.values():
            for g in out.groups.values():
                for sock, fn in g.sockets():
                    self.watch(sock, fn)
        self.watch(self.signals.fd, self.signals.drain)
        # While emit() blocks and while the stop waits for acknowledgements, inputs are not
        # read: polling them then would only spin.
        self.framework_poller = zmq.Poller()
        for sock in self.dispatch:
            self.framework_poller.register(sock, zmq.POLLIN)
        for inp in self.inputs.values():
            self.watch(inp.sock, None)
            self.input_socks.add(inp.sock)
        self.poller_dirty = False

    def watch(self, sock, fn):
        self.poller.register(sock, zmq.POLLIN)
        self.dispatch[sock] = fn

    # -- directory listener --------------------------------------------------------------------

    def registered(self, endpoint):
        self.registered_with.add(endpoint)

    def name_taken(self, text):
        log.error("%s", text)
        self.exit_code = 1
        self.stop()

    def entry_added(self, key, e):
        n = self.entry_refs.get(key, 0)
        self.entry_refs[key] = n + 1
        if n:
            return
        if e["reg"]["dir"] == "out":
            for inp in self.inputs.values():
                if inp.name == e["reg"]["channel"] and hasattr(inp, "publishers"):
                    inp.publishers[key] = "%s.%d@%s" % (e["node"], e["instance"], e["incarnation"])
            return
        for out in self.outputs.values():
            if out.name == e["reg"]["channel"]:
                before = len(out.groups)
                out.entry_added(key, e)
                if len(out.groups) != before:
                    self.poller_dirty = True

    def entry_removed(self, key, e):
        n = self.entry_refs.get(key, 0) - 1
        if n > 0:
            self.entry_refs[key] = n
            return
        self.entry_refs.pop(key, None)
        if e["reg"]["dir"] != "in":
            for inp in self.inputs.values():
                getattr(inp, "publishers", {}).pop(key, None)
            return
        for out in self.outputs.values():
            if out.name == e["reg"]["channel"]:
                before = len(out.groups)
                out.entry_removed(key)
                if len(out.groups) != before:
                    self.poller_dirty = True

    def heartbeat_counters(self):
        for out in self.outputs.values():
            out.counters.pending = sum(g.pending_count() for g in out.groups.values())
            out.counters.in_flight = sum(len(g.inflight) for g in out.groups.values()
                                         if g.reliable)
        return {"uptime_ms": int((time.monotonic() - self.started) * 1000),
                "loop_iterations": self.loop_iterations,
                "channels": {ch: c.as_dict() for ch, c in self.counters.items()}}

    # -- the loop ---------------------------------------------------------------------------------

    def next_wake(self):
        wake = min(self.wake, self.liveness.next)
        due = self.timers.next_due()
        if due is not None and not self.stop_requested:
            wake = min(wake, due)
        if not self.is_ready:
            wake = min(wake, self.ready_deadline, time.monotonic() + 0.05)
        return wake

    def serve(self, until, inputs=True):
        """One poll and what it found; then every sender's and session's due work."""
        if self.poller_dirty:
            self.rebuild_poller()
        timeout = max(0, int((until - time.monotonic()) * 1000 + 0.999))
        poller = self.poller if inputs else self.framework_poller
        for sock, _ in poller.poll(timeout):
            if sock in self.input_socks:
                self.read_input(sock)
            else:
                fn = self.dispatch.get(sock)
                if fn is not None:
                    fn()
        if inputs and self.retries:
            self.run_retries(time.monotonic())
        for inp in self.inputs.values():
            if inp.reliable and inp.acks:
                inp.flush_acks()
        now = time.monotonic()
        wake = now + 1.0
        for sess in self.sessions:
            wake = min(wake, sess.tick(now))
        for out in self.outputs.values():
            for g in out.groups.values():
                wake = min(wake, g.tick(now))
        if inputs and self.retries:
            wake = min(wake, self.retries.next_due())
        if self.more_input:
            wake, self.more_input = 0, False
        self.wake = wake

    def read_input(self, sock):
        for inp in self.inputs.values():
            if inp.sock is sock:
                break
        # zmq sockets are edge-triggered underneath: read until empty, a batch at a time.
        batch = inp.receive()
        if batch:
            self.last_input = time.monotonic()
        for m, rid in batch:
            self.handle(inp, m, rid)
        if batch:
            self.more_input = True  # there may be more: poll again at once

    def check_ready(self):
        now = time.monotonic()
        missing = [] if self.registered_with else ["not registered with the directory"]
        for out in self.outputs.values():
            why = out.ready()
            if why:
                missing.append(why)
        for inp in self.inputs.values():
            waiting = [p for p in getattr(inp, "publishers", {}).values()
                       if p not in inp.welcomed_by]
            if waiting:
                missing.append("'%s' not welcomed by %s" % (inp.name, ", ".join(waiting)))
        if missing and now < self.ready_deadline:
            return
        if missing:
            log.warning("ready after the ready timeout, though %s", "; ".join(missing))
        self.is_ready = True
        for out in self.outputs.values():
            if out.pubsub:
                out.groups[""].open = True
                out.groups[""].flush(now)
        eps = "".join(" %s=%s" % (p, i.endpoint) for p, i in self.inputs.items())
        write_fd_line("BROOK_READY_FD", "READY %s%s" % (self.producer_id, eps))
        sd_notify("READY=1\nSTATUS=ready %s%s" % (self.producer_id, eps))
        log.info("ready in %d ms%s", (now - self.started) * 1000, eps)
        for fn in self.ready_callbacks:
            fn()
