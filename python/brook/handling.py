"""Handlers and emit(): a handler's output leaves when it returns and is discarded (its
sequence numbers reused) when it raises; at-least-once input is acknowledged once its handler
returned and what it emitted at least once was acknowledged downstream (chained)."""

import logging
import time

from . import envelope
from .counters import Hold
from .errors import BackpressureError, ConfigError, MessageTooLarge

log = logging.getLogger("brook")


class Handling:
    """Mixed into Node: uses its outputs, current handler state and serve()."""

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
            self.pass_out.append((out, seq, frame, skip, key))
        else:
            self.hand_over(out, seq, frame, skip, None, key)

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
        takes = self.types.get(inp.port)
        if takes is not None and m.type not in takes:
            inp.bad("message of type '%s' on port '%s', which takes %s (message %s/%d)"
                    % (m.type, inp.port, ", ".join("'%s'" % t for t in sorted(takes)),
                       m.producer, m.seq))
            if hold is not None:
                hold.seal()
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
        for out, seq, frame, skip, key in out_list:
            self.hand_over(out, seq, frame, skip, hold, key)
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

    def hand_over(self, out, seq, frame, skip, hold, key):
        for gk, g in out.groups.items():
            if gk in skip:
                out.counters.dropped += 1
                continue
            if g.reliable:
                g.offer(seq, frame, hold, key)
            else:
                g.offer(seq, frame, None)

