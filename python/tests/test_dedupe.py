"""De-duplication window tests (docs/wire.md, consumer rule 3)."""

import unittest

from brook.counters import Hold
from brook.dedupe import MIN_SPAN, Dedupe


class DedupeTest(unittest.TestCase):
    def test_a_handled_seq_is_seen_per_producer(self):
        d = Dedupe()
        self.assertFalse(d.seen("a", 1))
        d.add("a", 1)
        self.assertTrue(d.seen("a", 1))
        self.assertFalse(d.seen("b", 1))
        self.assertFalse(d.seen("a", 2))

    def test_out_of_order_within_the_window(self):
        d = Dedupe()
        for s in (5, 3, 9):
            d.add("a", s)
        self.assertEqual([s for s in range(1, 11) if d.seen("a", s)], [3, 5, 9])

    def test_numbers_the_window_slid_past_count_as_handled(self):
        d = Dedupe(window=10)
        self.assertEqual(d.span, MIN_SPAN)
        d.add("a", 1)
        for s in range(3, MIN_SPAN + 10):
            d.add("a", s)
        self.assertTrue(d.seen("a", 2))  # slid past: treated as handled
        self.assertLessEqual(len(d.producers["a"].handled), MIN_SPAN)

    def test_a_jump_starts_a_new_window(self):
        d = Dedupe()
        d.add("a", 1)
        self.assertTrue(d.add("a", 1 + MIN_SPAN + 5))
        self.assertFalse(d.seen("a", 100))  # nothing below a jump counts as handled
        self.assertTrue(d.seen("a", 1 + MIN_SPAN + 5))

    def test_window_follows_the_channel(self):
        self.assertEqual(Dedupe(window=100000).span, 200000)

    def test_producers_are_bounded_oldest_forgotten(self):
        d = Dedupe(max_producers=3)
        for p in "abcd":
            d.add(p, 1)
        self.assertEqual(list(d.producers), ["b", "c", "d"])
        self.assertFalse(d.seen("a", 1))


class HoldTest(unittest.TestCase):
    def test_acknowledges_after_the_handler_and_every_output(self):
        done = []
        h = Hold(lambda: done.append(1))
        h.take()
        h.take()
        h.release()
        h.seal()
        self.assertEqual(done, [])
        h.release()
        self.assertEqual(done, [1])

    def test_no_output_acknowledges_at_seal(self):
        done = []
        Hold(lambda: done.append(1)).seal()
        self.assertEqual(done, [1])


if __name__ == "__main__":
    unittest.main()
