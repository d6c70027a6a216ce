"""When a failed handler call is tried again (docs/reliability.md, "Handler failures"): the
channel's retry policy, the jittered backoff and the queue of messages waiting for their next
attempt. Plain logic, the same numbers as the C++ runtime (runtime/handling.cpp)."""

import heapq
import itertools

MASK = (1 << 64) - 1


class Backoff:
    """Delays between attempts: initial, then doubled up to max, each drawn in [delay/2, delay]
    so the retries of many messages that failed together spread out. The xorshift generator and
    seed of the C++ RetryBackoff: deterministic, not for anything secret."""

    def __init__(self, seed=0x9E3779B97F4A7C15):
        self.state = (seed | 1) & MASK

    def next(self, policy, attempt):
        """After attempt `attempt` (1-based) failed: milliseconds to wait before the next one,
        or None when the policy's max_attempts are used up. `policy` is a resolved channel's
        retry: {"max_attempts", "initial_ms", "max_ms"}."""
        if attempt >= policy["max_attempts"]:
            return None
        delay, top = policy["initial_ms"], policy["max_ms"]
        i = 1
        while i < attempt and delay < top:
            delay *= 2
            i += 1
        delay = min(delay, top)
        s = self.state
        s ^= (s << 13) & MASK
        s ^= s >> 7
        s ^= (s << 17) & MASK
        self.state = s
        half = delay // 2
        return half + s % (delay - half + 1)


class Retry:
    """A message whose handler failed, waiting for attempt `attempt`."""

    __slots__ = ("inp", "msg", "rid", "attempt")

    def __init__(self, inp, msg, rid, attempt):
        self.inp = inp
        self.msg = msg
        self.rid = rid
        self.attempt = attempt


class RetryQueue:
    """Retries by due time (seconds on the monotonic clock), earliest first; ties in the order
    they were scheduled."""

    def __init__(self):
        self.heap = []
        self.order = itertools.count()

    def __len__(self):
        return len(self.heap)

    def add(self, due, retry):
        heapq.heappush(self.heap, (due, next(self.order), retry))

    def next_due(self):
        """When the earliest retry is due, or None."""
        return self.heap[0][0] if self.heap else None

    def pop_due(self, now):
        """The retries due at `now`, removed from the queue."""
        out = []
        while self.heap and self.heap[0][0] <= now:
            out.append(heapq.heappop(self.heap)[2])
        return out
