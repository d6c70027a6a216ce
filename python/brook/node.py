"""brook.Node: one instance of a topology's node, on a single-threaded poll loop.

    node = brook.Node()
    @node.on("in")
    def handle(msg): node.emit("out", {"n": msg.payload["n"] * 2}, key=msg.key)
    raise SystemExit(node.run())
"""

import logging
import os
import signal
import sys
import time

import zmq

from . import envelope
from .counters import ChannelCounters, Hold
from .directory import DirectorySession
from .errors import BackpressureError, ConfigError, MessageTooLarge
from .lifecycle import SignalPipe, log_setup, write_fd_line
from .outputs import Output
from .receivers import PullInput, RouterInput, SubInput
from .settings import load
from .timers import Timers

log = logging.getLogger("brook")

QUIET = 0.1


def fail_config(e):
    sys.stderr.write("error: %s\n" % e)
    sys.stderr.flush()
    raise SystemExit(2)


class Node:
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
        log_setup(level, self.producer_id)
        self.handlers = {}
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
        self.last_input = 0.0
        self.loop_iterations = 0

    # -- the user's API --------------------------------------------------------------------------

    def on(self, port):
        """Decorator: handler(msg) for every message on input `port`."""
        if port not in self.settings["inputs"]:
            fail_config("node '%s' has no input port '%s' in %s (inputs: %s)"
                        % (self.name, port, self.settings.get("file"),
                           ", ".join(sorted(self.settings["inputs"])) or "none"))
        if port in self.handlers:
            fail_config("a second handler for input port '%s'" % port)

        def register(fn):
            self.handlers[port] = fn
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

    def emit(self, port, payload, key=None, type="", headers=None):
        """Sends `payload` (any msgpack-able value) on output `port`."""
        if not self.running:
            raise ConfigError("emit() before run(): emit from a handler, a timer or on_ready")
        out = self.outputs.get(port)
        if out is None:
            raise ConfigError("node '%s' has no output port '%s' (outputs: %s)"
                              % (self.name, port, ", ".join(sorted(self.outputs)) or "none"))
        seq = out.next_seq
        trace = self.current[0].trace if self.current else None
        frame = envelope.encode(self.producer_id, seq, out.name, type,
                                envelope.pack_payload(payload), key=key, trace=trace,
                                headers=headers)
        if len(frame) > out.channel["max_message_size"]:
            raise MessageTooLarge("envelope of %d bytes on channel '%s' (max_message_size %d)"
                                  % (len(frame), out.name, out.channel["max_message_size"]))
        skip = self.make_room(out)
        out.next_seq += 1
        out.counters.emitted += 1
        if self.current is not None:
            self.pass_out.append((out, seq, frame, skip))
        else:
            self.hand_over(out, seq, frame, skip, None)

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
            args = (self.ctx, port, ch, s["advertise"], self.counters_of(ch["name"]),
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
        if n or e["reg"]["dir"] != "in":
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
        wake = self.wake
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

    def handle(self, inp, m, rid):
        hold = None
        if inp.reliable:
            if inp.duplicate(m, rid):
                return
            inp.holding.add((m.producer, m.seq))
            self.holds_open += 1

            def done(inp=inp, m=m, rid=rid):
                self.holds_open -= 1
                inp.handled(m, rid)
            hold = Hold(done)
        try:
            m.payload = envelope.decode_payload_bytes(m.raw_payload)
        except envelope.DecodeError as e:
            inp.bad("%s (message %s/%d)" % (e, m.producer, m.seq))
            if hold is not None:
                hold.seal()  # an undecodable payload is acknowledged: no attempt can fix it
            return
        inp.counters.received += 1
        self.current = (m, hold)
        saved = {out: out.next_seq for out in self.outputs.values()}
        try:
            self.handlers[inp.port](m)
        except Exception as e:  # the handler's error is counted and logged, not fatal
            inp.counters.handler_errors += 1
            log.warning("handler of port '%s' failed on %s/%d: %s: %s", inp.port, m.producer,
                        m.seq, type(e).__name__, e)
            for out, seq in saved.items():  # its output is discarded, its seqs reused
                out.counters.emitted -= out.next_seq - seq
                out.next_seq = seq
            self.pass_out = []
        finally:
            self.current = None
        out_list, self.pass_out = self.pass_out, []
        for out, seq, frame, skip in out_list:
            self.hand_over(out, seq, frame, skip, hold)
        if hold is not None:
            hold.seal()

    def make_room(self, out):
        """Applies on_full to every full group; returns the groups this message skips."""
        skip = set()
        for gk, g in out.groups.items():
            if g.tap or g.pending_count() < out.channel["max_pending"]:
                continue
            out.counters.backpressure += 1
            policy = out.channel["on_full"]
            if policy == "drop":
                skip.add(gk)
                continue
            if policy == "block":
                deadline = time.monotonic() + out.channel["block_timeout_ms"] / 1000.0
                while g.pending_count() >= out.channel["max_pending"] and \
                        time.monotonic() < deadline and not self.stop_requested:
                    self.serve(min(deadline, time.monotonic() + 0.01), inputs=False)
                if g.pending_count() < out.channel["max_pending"]:
                    continue
            raise BackpressureError("channel '%s': consumer group '%s' has %d messages pending "
                                    "(max_pending); on_full is %s" % (out.name, g.node,
                                                                      g.pending_count(), policy))
        return skip

    def hand_over(self, out, seq, frame, skip, hold):
        for gk, g in out.groups.items():
            if gk in skip:
                out.counters.dropped += 1
                continue
            g.offer(seq, frame, hold if g.reliable else None)

    def check_ready(self):
        now = time.monotonic()
        missing = [] if self.registered_with else ["not registered with the directory"]
        for out in self.outputs.values():
            why = out.ready()
            if why:
                missing.append(why)
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
        log.info("ready in %d ms%s", (now - self.started) * 1000, eps)
        for fn in self.ready_callbacks:
            fn()

    # -- stop -----------------------------------------------------------------------------------

    def settle(self, deadline, done):
        while time.monotonic() < deadline and not done() and self.signals.count < 2:
            self.serve(min(deadline, time.monotonic() + QUIET / 2))

    def quiet(self):
        return time.monotonic() - self.last_input >= QUIET

    def shutdown(self):
        stop_at = time.monotonic()
        log.info("stopping%s", " (%s)" % self.signals.name if self.signals.name else "")
        drain = self.linger_ms / 1000.0
        for fn in self.stop_callbacks:
            fn()
        # 1. Producers send nothing new; what they sent is handled and acknowledged.
        for inp in self.inputs.values():
            if inp.reliable:
                inp.begin_drain()
        self.last_input = max(self.last_input, time.monotonic())
        self.settle(stop_at + drain, lambda: self.quiet() and self.holds_open == 0)
        # 2. Leave the directory; what was already queued is still handled.
        for sess in self.sessions:
            sess.begin_unregister()
        self.settle(max(stop_at + drain, time.monotonic() + 0.2),
                    lambda: self.quiet() and all(s.unregister_done for s in self.sessions))
        # 3. Deliver what is pending, wait for acknowledgements.
        for inp in self.inputs.values():
            if inp.reliable and inp.acks:
                inp.flush_acks()
        end = time.monotonic() + drain
        while time.monotonic() < end and self.signals.count < 2 and \
                any(o.unacked() for o in self.outputs.values()):
            self.serve(min(end, time.monotonic() + 0.05), inputs=False)
        unacked = sum(o.unacked() for o in self.outputs.values())
        self.heartbeat_counters()
        report = " ".join("%s:%s=%d" % (ch, n, v) for ch, c in self.counters.items()
                          for n, v in c.as_dict(skip_zero=True).items())
        write_fd_line("BROOK_REPORT_FD", "STOPPED " + report)
        self.close(unacked)
        took = (time.monotonic() - stop_at) * 1000
        if unacked:
            log.warning("stopped after %d ms: %d messages not delivered within the linger "
                        "(exit status 1)", took, unacked)
            return 1
        log.info("stopped after %d ms", took)
        return self.exit_code

    def close(self, unacked):
        for out in self.outputs.values():
            for g in out.groups.values():
                g.close(bool(unacked))
        for inp in self.inputs.values():
            inp.close()
        for sess in self.sessions:
            sess.close()
        self.signals.close()
        self.ctx.term()
