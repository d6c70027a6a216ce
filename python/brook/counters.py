"""Per-channel counters (docs/runtime.md, "Counters"), sent with heartbeats and the STOPPED line."""

NAMES = ("received", "emitted", "sent", "decode_errors", "handler_errors", "dropped",
         "backpressure", "pending", "in_flight", "redelivered", "duplicates", "gaps",
         "retried", "dead_lettered", "misrouted")


class ChannelCounters:
    __slots__ = NAMES

    def __init__(self):
        for n in NAMES:
            setattr(self, n, 0)

    def as_dict(self, skip_zero=False):
        return {n: getattr(self, n) for n in NAMES if not skip_zero or getattr(self, n)}


class Hold:
    """An input message's acknowledgement, held until what its handler emitted on at-least-once
    channels was acknowledged downstream (chained acknowledgement, docs/reliability.md)."""

    __slots__ = ("count", "sealed", "on_done")

    def __init__(self, on_done):
        self.count = 0
        self.sealed = False
        self.on_done = on_done

    def take(self):
        self.count += 1

    def release(self):
        self.count -= 1
        if self.count == 0 and self.sealed:
            self.on_done()

    def seal(self):
        """The handler returned: from now on the last release acknowledges."""
        self.sealed = True
        if self.count == 0:
            self.on_done()
