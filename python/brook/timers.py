"""every() and after() on the node's loop: a heap of due times, no thread."""

import heapq
import itertools
import time


class Timers:
    def __init__(self):
        self.heap = []
        self.ids = itertools.count(1)
        self.cancelled = set()

    def add(self, delay, fn, period=None):
        tid = next(self.ids)
        heapq.heappush(self.heap, (time.monotonic() + delay, tid, fn, period))
        return tid

    def cancel(self, tid):
        self.cancelled.add(tid)

    def next_due(self):
        while self.heap and self.heap[0][1] in self.cancelled:
            self.cancelled.discard(heapq.heappop(self.heap)[1])
        return self.heap[0][0] if self.heap else None

    def run_due(self, stopping):
        """Calls what is due (once each per turn); nothing once a stop was requested."""
        now = time.monotonic()
        due = []
        while self.heap and self.heap[0][0] <= now:
            due.append(heapq.heappop(self.heap))
        for at, tid, fn, period in due:
            if tid in self.cancelled:
                self.cancelled.discard(tid)
                continue
            if stopping():
                return
            if period is not None:
                heapq.heappush(self.heap, (max(at + period, now), tid, fn, period))
            fn()
