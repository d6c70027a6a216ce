"""Handler failures without sockets (docs/reliability.md, "Handler failures"): the backoff, the
retry queue, dead-letter headers, and a node's handling of a failing handler on fake ports."""

import logging
import unittest

from brook import envelope
from brook.counters import ChannelCounters
from brook.dead_letters import DeadLetters, dead_letter_headers
from brook.dedupe import Dedupe
from brook.handling import Handling, LogLimiter
from brook.receivers import RouterInput
from brook.retry import Backoff, Retry, RetryQueue

logging.getLogger("brook").setLevel(logging.CRITICAL)  # the failures below are on purpose


def policy(max_attempts, initial_ms=100, max_ms=5000):
    return {"max_attempts": max_attempts, "initial_ms": initial_ms, "max_ms": max_ms}


class BackoffTest(unittest.TestCase):
    def test_doubles_from_initial_up_to_max_with_jitter_in_the_upper_half(self):
        p = policy(8, 100, 1000)
        nominal = [100, 200, 400, 800, 1000, 1000, 1000]
        for seed in range(1, 200):
            b = Backoff(seed)
            for attempt in range(1, 8):
                d = b.next(p, attempt)
                n = nominal[attempt - 1]
                self.assertTrue(n // 2 <= d <= n, "attempt %d: %r" % (attempt, d))
            self.assertIsNone(b.next(p, 8), "max_attempts used up")

    def test_spreads_the_retries_of_many_messages(self):
        b = Backoff()
        self.assertGreater(len({b.next(policy(2, 1000), 1) for _ in range(100)}), 50)

    def test_no_retry_with_one_attempt(self):
        self.assertIsNone(Backoff().next(policy(1), 1))

    def test_the_c_plus_plus_generator(self):
        # xorshift64 (13, 7, 17) from seed 1: 1082269761, the C++ RetryBackoff's first state.
        self.assertEqual(Backoff(1).next(policy(2, 1000), 1), 500 + 1082269761 % 501)


class RetryQueueTest(unittest.TestCase):
    def test_due_ones_earliest_first_ties_in_order(self):
        q = RetryQueue()
        q.add(2.0, "b")
        q.add(1.0, "a")
        q.add(2.0, "c")
        q.add(5.0, "d")
        self.assertEqual(q.next_due(), 1.0)
        self.assertEqual(q.pop_due(0.5), [])
        self.assertEqual(q.pop_due(2.0), ["a", "b", "c"])
        self.assertEqual(len(q), 1)
        self.assertEqual(q.next_due(), 5.0)
        q.pop_due(9.0)
        self.assertIsNone(q.next_due())


def message(seq=42, type_="shop.Checkout", key="k1", headers=None, payload=None,
            channel="work"):
    raw = envelope.pack_payload({"n": seq} if payload is None else payload)
    frame = envelope.encode("basket.0@abc", seq, channel, type_, raw, key=key,
                            headers=headers or {})
    return envelope.decode(frame, decode_payload=False)


class HeadersTest(unittest.TestCase):
    def test_keep_the_original_headers_then_say_why(self):
        h = dead_letter_headers(message(headers={"tenant": "t1"}), "e" * 2000, 3, "product.1")
        self.assertEqual(list(h.items()), [
            ("tenant", "t1"), ("dead-letter-error", "e" * 1024), ("dead-letter-attempts", "3"),
            ("dead-letter-node", "product.1"), ("dead-letter-channel", "work"),
            ("dead-letter-producer", "basket.0@abc"), ("dead-letter-seq", "42")])

    def test_the_error_is_cut_on_a_character(self):
        h = dead_letter_headers(message(), "é" * 600, 1, "n.0")
        self.assertEqual(h["dead-letter-error"], "é" * 512)


class FakeInput:
    """An at-least-once input without a socket: acknowledgements land in `acked`."""

    reliable = True
    port = "in"
    duplicate = RouterInput.duplicate
    handled = RouterInput.handled

    def __init__(self, channel):
        self.channel = channel
        self.name = channel["name"]
        self.counters = ChannelCounters()
        self.holding = set()
        self.dedupe = Dedupe()
        self.acked = []

    def ack(self, rid, seq):
        self.acked.append(seq)

    def bad(self, why):
        self.counters.decode_errors += 1

    def warn(self, *args):
        pass


class FakeGroup:
    reliable = True
    tap = False

    def __init__(self):
        self.frames = []
        self.holds = []

    def pending_count(self):
        return 0

    def offer(self, seq, frame, hold, key=None):
        if hold is not None:
            hold.take()
        self.frames.append(frame)
        self.holds.append(hold)

    def ack_all(self):
        for h in self.holds:
            if h is not None:
                h.release()
        self.holds = []


class FakeOutput:
    def __init__(self, name):
        self.name = name
        self.channel = {"name": name, "max_message_size": 1 << 20, "max_pending": 10000}
        self.next_seq = 1
        self.counters = ChannelCounters()
        self.keeper = FakeGroup()
        self.groups = {"keeper": self.keeper}


class FakeNode(Handling, DeadLetters):
    def __init__(self, retry, dead_letter="work-dead", fail=lambda m: True, types=None):
        self.running = True
        self.current = None
        self.pass_out = []
        self.holds_open = 0
        self.retries = RetryQueue()
        self.backoff = Backoff()
        self.failure_log = LogLimiter()
        self.stop_requested = False
        self.producer_id = "worker.0@00"
        self.instance_name = "worker.0"
        self.inp = FakeInput({"name": "work", "retry": retry, "dead_letter": dead_letter})
        self.calls = []
        self.types = {"in": frozenset(types)} if types else {}
        self.dead = FakeOutput("work-dead")
        self.outputs = {"~dead-letter:work": self.dead}
        self.dead_letter_out = {"work": self.dead} if dead_letter else {}

        def handler(m):
            self.calls.append(m.attempt)
            if fail(m):
                raise RuntimeError("poison message %d" % m.payload["n"])
        self.handlers = {"in": handler}

    def retry_all(self):
        while self.retries:
            self.run_retries(self.retries.next_due())

    def letters(self):
        return [envelope.decode(f) for f in self.dead.keeper.frames]


class HandlingTest(unittest.TestCase):
    def test_retried_then_dead_lettered_then_acknowledged_once_its_letter_is(self):
        node = FakeNode(policy(3, 50, 1000))
        m = message()
        node.handle(node.inp, m, b"r1")
        self.assertEqual(node.calls, [1])
        self.assertEqual(len(node.retries), 1)
        self.assertEqual(node.inp.acked, [], "unacknowledged while a retry owns it")
        node.handle(node.inp, message(), b"r1")  # its producer re-sends it meanwhile
        self.assertEqual(node.calls, [1], "a re-send is not handled twice")
        self.assertEqual(node.inp.counters.duplicates, 1)
        node.retry_all()
        self.assertEqual(node.calls, [1, 2, 3])
        c = node.inp.counters
        self.assertEqual((c.received, c.retried, c.handler_errors, c.dead_lettered), (1, 2, 3, 1))
        [d] = node.letters()
        self.assertEqual((d.type, d.key, d.trace, d.raw_payload, d.channel),
                         (m.type, m.key, m.trace, m.raw_payload, "work-dead"))
        self.assertEqual(d.headers["dead-letter-attempts"], "3")
        self.assertEqual(d.headers["dead-letter-error"], "poison message 42")
        self.assertEqual(d.headers["dead-letter-seq"], "42")
        self.assertEqual(node.inp.acked, [], "acknowledged only once its dead letter is")
        node.dead.keeper.ack_all()
        self.assertEqual(node.inp.acked, [42])
        self.assertEqual(node.holds_open, 0)
        node.handle(node.inp, message(), b"r1")
        self.assertEqual(node.inp.acked, [42, 42], "a later re-send is acknowledged again")
        self.assertEqual(node.calls, [1, 2, 3])

    def test_a_transient_failure_succeeds_on_its_retry(self):
        node = FakeNode(policy(3, 50), fail=lambda m: m.attempt == 1)
        node.handle(node.inp, message(), b"r1")
        node.retry_all()
        self.assertEqual(node.calls, [1, 2])
        self.assertEqual(node.inp.acked, [42])
        self.assertEqual((node.inp.counters.retried, node.inp.counters.dead_lettered), (1, 0))
        self.assertEqual(node.letters(), [])

    def test_without_dead_letter_the_last_failure_is_acknowledged(self):
        node = FakeNode(policy(2, 10), dead_letter=None)
        node.handle(node.inp, message(), b"r1")
        node.retry_all()
        self.assertEqual(node.calls, [1, 2])
        self.assertEqual(node.inp.acked, [42])
        self.assertEqual(node.inp.counters.dead_lettered, 0)

    def test_a_stopping_node_dead_letters_at_once(self):
        node = FakeNode(policy(5, 10))
        node.stop_requested = True
        node.handle(node.inp, message(), b"r1")
        self.assertEqual(len(node.retries), 0)
        self.assertEqual(node.letters()[0].headers["dead-letter-attempts"], "1")

    def test_a_type_the_handler_does_not_take_is_dead_lettered_never_handled(self):
        node = FakeNode(policy(3, 10), types=["shop.Quote"])
        node.handle(node.inp, message(), b"r1")
        self.assertEqual(node.calls, [])
        self.assertEqual(len(node.retries), 0)
        self.assertEqual(node.inp.counters.decode_errors, 1)
        [d] = node.letters()
        self.assertIn("takes 'shop.Quote'", d.headers["dead-letter-error"])
        self.assertEqual(node.inp.acked, [])
        node.dead.keeper.ack_all()
        self.assertEqual(node.inp.acked, [42])

    def test_a_retry_sees_a_fresh_payload(self):
        def fail(m):
            m.payload["n"] += 1000  # a failing attempt that changed its message
            return m.attempt == 1
        node = FakeNode(policy(2, 10), fail=fail)
        node.handle(node.inp, message(), b"r1")
        r = node.retries.heap[0][2]
        self.assertIsInstance(r, Retry)
        node.retry_all()
        self.assertEqual(r.msg.payload["n"], 1042)  # 42 again before the second call


if __name__ == "__main__":
    unittest.main()
