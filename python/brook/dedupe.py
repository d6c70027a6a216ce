"""De-duplication of at-least-once input by (producer, seq) (docs/wire.md, consumer rule 3).

Each producer id gets a window of the last max(65536, 2 * window) sequence numbers; numbers the
window slid past one step at a time count as handled. A number more than the window beyond the
highest seen (a skipped replica, or a forgery) starts a new window: nothing below it counts as
handled. At most MAX_PRODUCERS producer ids are remembered, the least recently used forgotten.
"""

from collections import OrderedDict

MIN_SPAN = 65536
MAX_PRODUCERS = 4096


class ProducerWindow:
    __slots__ = ("span", "high", "floor", "handled")

    def __init__(self, span):
        self.span = span
        self.high = 0      # highest seq seen
        self.floor = 0     # every seq <= floor counts as handled
        self.handled = set()  # handled seqs above floor

    def seen(self, seq):
        return seq <= self.floor or seq in self.handled

    def add(self, seq):
        """Remembers seq as handled; returns True when it started a new window (a jump)."""
        if seq <= self.floor:
            return False
        jumped = False
        if self.high and seq > self.high + self.span:
            # Nothing below a jump is known: it does not count as handled.
            self.handled.clear()
            self.floor = 0
            jumped = True
        if seq > self.high:
            self.high = seq
        self.handled.add(seq)
        new_floor = self.high - self.span
        if new_floor > self.floor and not jumped:
            if new_floor - self.floor < len(self.handled):
                for s in range(self.floor + 1, new_floor + 1):
                    self.handled.discard(s)
            else:
                self.handled = {s for s in self.handled if s > new_floor}
            self.floor = new_floor
        elif jumped:
            self.floor = 0
        if len(self.handled) > self.span:  # after a jump, old numbers must not pile up
            self.handled = {s for s in self.handled if s > self.high - self.span}
        return jumped


class Dedupe:
    """Which (producer, seq) pairs an input replica handled."""

    def __init__(self, window=10000, max_producers=MAX_PRODUCERS):
        self.span = max(MIN_SPAN, 2 * window)
        self.max_producers = max_producers
        self.producers = OrderedDict()

    def seen(self, producer, seq):
        w = self.producers.get(producer)
        return w is not None and w.seen(seq)

    def add(self, producer, seq):
        w = self.producers.get(producer)
        if w is None:
            if len(self.producers) >= self.max_producers:
                self.producers.popitem(last=False)
            w = self.producers[producer] = ProducerWindow(self.span)
        else:
            self.producers.move_to_end(producer)
        return w.add(seq)
