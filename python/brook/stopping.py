"""The node's stop sequence (docs/runtime.md, "Shutdown"): drain frames, settle the inputs,
unregister, wait for the acknowledgements of what was sent, the STOPPED line, the exit status."""

import logging
import time

from .lifecycle import sd_notify, write_fd_line

log = logging.getLogger("brook")

QUIET = 0.1


class Stopping:
    """Mixed into Node: uses its inputs, outputs, sessions, counters and serve()."""

    def settle(self, deadline, done):
        while time.monotonic() < deadline and not done() and self.signals.count < 2:
            self.serve(min(deadline, time.monotonic() + QUIET / 2))

    def quiet(self):
        return time.monotonic() - self.last_input >= QUIET

    def shutdown(self):
        stop_at = time.monotonic()
        log.info("stopping%s", " (%s)" % self.signals.name if self.signals.name else "")
        sd_notify("STOPPING=1\nSTATUS=stopping (%s)" % (self.signals.name or "stop()"))
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
            out.close(bool(unacked))
        for inp in self.inputs.values():
            inp.close()
        for sess in self.sessions:
            sess.close()
        self.signals.close()
        self.ctx.term()
