"""Codec tests: the envelope as docs/wire.md specifies it, byte for byte."""

import unittest

import msgpack

from brook import envelope


def raw(fields):
    return msgpack.packb(fields, use_bin_type=True)


GOOD = [1, "basket.0@00000000deadbeef", 42, "checkouts", "shop.Checkout", "basket-17", 7, 1,
        b"t" * 16, {}, msgpack.packb({"basket": "b-17"})]


class EnvelopeTest(unittest.TestCase):
    def test_encodes_the_documented_layout(self):
        f = envelope.encode("basket.0@00000000deadbeef", 42, "checkouts", "shop.Checkout",
                            envelope.pack_payload({"basket": "b-17"}), key="basket-17",
                            trace=b"t" * 16, created_ns=7)
        self.assertEqual(f[:2], bytes([0x9b, 0x01]))  # array(11), version 1
        self.assertEqual(f, raw(GOOD))

    def test_round_trip(self):
        f = envelope.encode("p.0@1", 3, "c", "T", envelope.pack_payload([1, "x"]),
                            headers={"h": "v"})
        m = envelope.decode(f)
        self.assertEqual((m.producer, m.seq, m.channel, m.type, m.key, m.attempt),
                         ("p.0@1", 3, "c", "T", None, 1))
        self.assertEqual(m.payload, [1, "x"])
        self.assertEqual(m.headers, {"h": "v"})
        self.assertEqual(len(m.trace), 16)

    def test_trace_context_round_trip(self):
        f = envelope.encode("p.0@1", 3, "c", "T", envelope.pack_payload(1), trace=b"t" * 16,
                            parent=b"p" * 8, flags=envelope.SAMPLED)
        self.assertEqual(msgpack.unpackb(f)[8], b"t" * 16 + b"p" * 8 + b"\x01")
        m = envelope.decode(f)
        self.assertEqual((m.trace, m.parent, m.flags, m.sampled), (b"t" * 16, b"p" * 8, 1, True))
        self.assertEqual(m.traceparent, "00-" + "74" * 16 + "-" + "70" * 8 + "-01")

    def test_sixteen_byte_trace_is_unsampled_without_parent(self):
        m = envelope.decode(raw(GOOD))
        self.assertEqual((m.trace, m.parent, m.flags, m.sampled, m.traceparent),
                         (b"t" * 16, None, 0, False, None))

    def test_accepts_bin32_payload_and_uint_formats(self):
        fields = list(GOOD)
        payload = fields[10]
        frame = b"\x9b" + raw(fields[:10])[1:]  # array(11), the payload appended as bin 32
        frame += b"\xc6" + len(payload).to_bytes(4, "big") + payload
        self.assertEqual(envelope.decode(frame).payload, {"basket": "b-17"})

    def rejects(self, frame, why):
        with self.assertRaises(envelope.DecodeError) as cm:
            envelope.decode(frame)
        self.assertIn(why, str(cm.exception))

    def test_rejects_what_the_spec_rejects(self):
        self.rejects(b"", "empty")
        self.rejects(raw({"a": 1}), "not an array")
        self.rejects(raw([2] + GOOD[1:]), "unsupported version")
        self.rejects(raw(GOOD[:10]), "wrong number of fields")
        self.rejects(raw(GOOD[:2] + [0] + GOOD[3:]), "seq")
        self.rejects(raw(GOOD[:7] + [0] + GOOD[8:]), "attempt")
        self.rejects(raw(GOOD[:8] + [b"short"] + GOOD[9:]), "trace")
        self.rejects(raw(GOOD[:8] + [b"t" * 24] + GOOD[9:]), "trace")
        self.rejects(raw(GOOD[:8] + [b"t" * 26] + GOOD[9:]), "trace")
        self.rejects(raw(GOOD[:5] + ["k" * 1025] + GOOD[6:]), "key")
        self.rejects(raw(GOOD[:1] + ["p" * 256] + GOOD[2:]), "producer")
        self.rejects(raw(GOOD[:9] + [{str(i): "" for i in range(65)}] + GOOD[10:]), "headers")
        self.rejects(raw(GOOD) + b"\x00", "trailing")
        self.rejects(raw(GOOD)[:-3], "malformed")

    def test_a_bad_payload_is_told_apart_from_a_bad_envelope(self):
        frame = raw(GOOD[:10] + [b"\x92\x01"])  # array of 2 with one element
        m = envelope.decode(frame, decode_payload=False)
        with self.assertRaises(envelope.DecodeError):
            envelope.decode_payload_bytes(m.raw_payload)

    def test_encode_refuses_oversized_fields(self):
        with self.assertRaises(ValueError):
            envelope.encode("p", 1, "c", "T", b"\xc0", key="k" * 1025)
        with self.assertRaises(ValueError):
            envelope.encode("p", 0, "c", "T", b"\xc0")


if __name__ == "__main__":
    unittest.main()
