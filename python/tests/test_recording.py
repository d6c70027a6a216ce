"""The recording reader against files built from docs/record.md's layout by hand."""

import gzip
import json
import os
import struct
import tempfile
import unittest

from brook import envelope, recording


def layout(records, end=True, header=None):
    header = header or {"topology": "t", "channels": [{"name": "a"}, {"name": "b"}],
                        "start_ns": 5, "host": "h"}
    text = json.dumps(header).encode()
    out = b"BROOKREC" + struct.pack("<II", 1, len(text)) + text
    for receive_ns, channel, frame in records:
        out += struct.pack("<IqH", 10 + len(frame), receive_ns, channel) + frame
    if end:
        out += struct.pack("<IQ", 0, len(records))
    return out


class RecordingTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "r.brec")

    def tearDown(self):
        self.dir.cleanup()

    def write(self, data):
        with gzip.open(self.path, "wb") as f:
            f.write(data)

    def test_reads_records_and_the_header(self):
        frame = envelope.encode("p.0@1", 1, "a", "T", envelope.pack_payload(7))
        self.write(layout([(10, 0, frame), (20, 1, frame)]))
        rec = recording.Reader(self.path)
        self.assertEqual(rec.header["topology"], "t")
        self.assertEqual(list(rec), [(10, "a", frame), (20, "b", frame)])
        self.assertEqual(rec.truncated, "")

    def test_a_cut_file_yields_the_complete_records(self):
        frame = envelope.encode("p.0@1", 1, "a", "T", envelope.pack_payload(7))
        data = layout([(10, 0, frame), (20, 0, frame)])
        self.write(data[:-12 - 3])  # inside the second record
        rec = recording.Reader(self.path)
        self.assertEqual(len(list(rec)), 1)
        self.assertIn("after record 1", rec.truncated)

    def test_not_a_recording(self):
        self.write(b"hello world")
        with self.assertRaises(recording.RecordingError):
            recording.Reader(self.path)


if __name__ == "__main__":
    unittest.main()
