"""Handlers and emit(): a handler's output leaves when it returns and is discarded (its
sequence numbers reused) when it raises; a failed call is retried by the channel's policy, then
dead-lettered; at-least-once input is acknowledged once its handler returned (or failed for
good) and what it emitted, or its dead letter, was acknowledged downstream (chained)."""

import logging
import time

from . import envelope
from .counters import Hold
from .dead_letters import error_text
from .errors import BackpressureError, ConfigError, MessageTooLarge
from .lifecycle import LogContext
from .retry import Retry

log = logging.getLogger("brook")


class LogLimiter:
    """At most one line a second (like the C++ LogRateLimiter), saying how many were skipped."""

    def __init__(self):
        self.next = 0.0
        self.skipped = 0
        self.suppressed = 0

    def allow(self):
        now = time.monotonic()
        if now < self.next:
            self.skipped += 1
            return False
        self.next = now + 1.0
        self.suppressed, self.skipped = self.skipped, 0
        return True

    def suppressed_text(self):
        return ", %d not logged" % self.suppressed if self.suppressed else ""


class Handling:
    """Mixed into Node: uses its outputs, current handler state and serve()."""

    def emit(self, port, payload, key=None, type="", headers=None):
        """Sends `payload` (any msgpack-able value) on output `port`."""
        if not self.running:
            raise ConfigError("emit() before run(): emit from a handler, a timer or on_ready")
        out = self.outputs.get(port) if not port.startswith("~") else None
        if out is None:
            raise ConfigError("node '%s' has no output port '%s' (outputs: %s)"
                              % (self.name, port, ", ".join(sorted(p for p in self.outputs
                                                                    if p[0] != "~")) or "none"))
        seq = out.next_seq
        # A message emitted while handling another continues its trace. Python nodes record no
        # spans: the emitted message names the handled one's parent, so a trace skips this hop.
        handled = self.current[0] if self.current else None
        frame = envelope.encode(self.producer_id, seq, out.name, type,
                                envelope.pack_payload(payload), key=key,
                                trace=handled.trace if handled else None,
                                parent=handled.parent if handled else None,
                                flags=handled.flags if handled else 0, headers=headers)
        if len(frame) > out.channel["max_message_size"]:
            raise MessageTooLarge("envelope of %d bytes on channel '%s' (max_message_size %d)"
                                  % (len(frame), out.name, out.channel["max_message_size"]))
        skip = self.make_room(out)
        out.next_seq += 1
        out.counters.emitted += 1
        if self.current is not None:
            self.pass_out.append((out, seq, frame, skip, key))
        else:
            self.hand_over(out, seq, frame, skip, None, key)

    def handle(self, inp, m, rid):
        """A message as received: de-duplicated, checked, then its first attempt."""
        if inp.reliable:
            if inp.duplicate(m, rid):
                return
            inp.holding.add((m.producer, m.seq))
        why = self.undecodable(inp, m)
        if why is not None:
            # No attempt can fix it: counted, dead-lettered where the channel says, acknowledged
            # (once its dead letter is).
            inp.bad("%s (message %s/%d)" % (why, m.producer, m.seq))
            hold = self.new_hold(inp, m, rid)
            self.send_dead_letter(inp, m, hold, m.attempt, why)
            if hold is not None:
                hold.seal()
            return
        inp.counters.received += 1
        self.attempt(inp, m, rid)

    def undecodable(self, inp, m):
        """Why m's handler cannot take it (payload, type), or None; decodes the payload."""
        try:
            m.payload = envelope.decode_payload_bytes(m.raw_payload)
        except envelope.DecodeError as e:
            return str(e)
        takes = self.types.get(inp.port)
        if takes is not None and m.type not in takes:
            return "message of type '%s' on port '%s', which takes %s" % (
                m.type, inp.port, ", ".join("'%s'" % t for t in sorted(takes)))
        return None

    def new_hold(self, inp, m, rid):
        """m's acknowledgement, held while its attempt and what it emitted are unsettled."""
        if not inp.reliable:
            return None
        self.holds_open += 1

        def done(inp=inp, m=m, rid=rid):
            self.holds_open -= 1
            inp.handled(m, rid)
        return Hold(done)

    def attempt(self, inp, m, rid):
        """One handler call (m.attempt says which); then acknowledged, retried or
        dead-lettered (docs/reliability.md, "Handler failures")."""
        hold = self.new_hold(inp, m, rid)
        self.current = (m, hold)
        saved = {out: out.next_seq for out in self.outputs.values()}
        error = None
        LogContext.message = m
        try:
            self.handlers[inp.port](m)
        except Exception as e:  # the handler's error is counted and logged, not fatal
            error = (type(e).__name__, error_text(e))
            for out, seq in saved.items():  # its output is discarded, its seqs reused
                out.counters.emitted -= out.next_seq - seq
                out.next_seq = seq
            self.pass_out = []
        finally:
            self.current = None
            LogContext.message = None
        out_list, self.pass_out = self.pass_out, []
        for out, seq, frame, skip, key in out_list:
            self.hand_over(out, seq, frame, skip, hold, key)
        if error is not None and self.failed(inp, m, rid, hold, error):
            return  # the retry owns the message
        if hold is not None:
            hold.seal()

    def failed(self, inp, m, rid, hold, error):
        """The handler raised `error` (type name, text). Retried after a backoff while the
        policy allows and the node is not stopping (True: the retry owns the message);
        otherwise dead-lettered where the channel says, and False: the caller settles it."""
        inp.counters.handler_errors += 1
        policy = inp.channel["retry"]
        dead_letter = inp.channel.get("dead_letter")
        delay = None if self.stop_requested else self.backoff.next(policy, m.attempt)
        if self.failure_log.allow():
            log.warning("handler of port '%s' failed on %s/%d (attempt %d of %d): %s: %s; %s "
                        "(%d handler errors on this channel%s)", inp.port, m.producer, m.seq,
                        m.attempt, policy["max_attempts"], error[0], error[1],
                        "retrying" if delay is not None else
                        "giving up (no dead_letter channel)" if not dead_letter else
                        "dead-lettering to '%s'" % dead_letter, inp.counters.handler_errors,
                        self.failure_log.suppressed_text())
        if delay is None:
            self.send_dead_letter(inp, m, hold, m.attempt, error[1])
            return False
        # The failed attempt emitted nothing (its output was discarded), so its hold is simply
        # dropped; (producer, seq) stays in inp.holding, so re-sends meanwhile are ignored.
        if hold is not None:
            self.holds_open -= 1
        self.retries.add(time.monotonic() + delay / 1000.0, Retry(inp, m, rid, m.attempt + 1))
        return True

    def run_retries(self, now):
        """The retries due at `now`: their next attempt, on a fresh payload (the failed one
        may have changed it)."""
        for r in self.retries.pop_due(now):
            m = r.msg
            m.attempt = r.attempt
            m.payload = envelope.decode_payload_bytes(m.raw_payload)
            r.inp.counters.retried += 1
            self.attempt(r.inp, m, r.rid)

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

    def hand_over(self, out, seq, frame, skip, hold, key):
        for gk, g in out.groups.items():
            if gk in skip:
                out.counters.dropped += 1
                continue
            if g.reliable:
                g.offer(seq, frame, hold, key)
            else:
                g.offer(seq, frame, None)

