"""Reads the recordings `brook record` writes (docs/record.md): a gzip stream of a header and
length-prefixed records, each a receive time, a channel and an envelope as on the wire.

    from brook import recording
    rec = recording.Reader("checkouts.brec")
    print(rec.header["topology"], [c["name"] for c in rec.header["channels"]])
    for receive_ns, channel, frame in rec:
        msg = envelope.decode(frame)   # brook.envelope
    if rec.truncated:
        print("ends early:", rec.truncated)

Run as a script it prints one line per record: `python3 -m brook.recording FILE`.
"""

import gzip
import json
import struct
import sys
import zlib

MAGIC = b"BROOKREC"
VERSION = 1
MAX_HEADER = 16 << 20
MAX_RECORD = 1 << 30


class RecordingError(ValueError):
    """Not a recording, or a corrupt header; the text names the file and the problem."""


class Reader:
    def __init__(self, path):
        self.path = path
        self.truncated = ""  # why the file ended before its end marker, once read that far
        self.records = 0
        self._f = gzip.open(path, "rb")
        start = self._read(16)
        if start is None or start[:8] != MAGIC:
            raise RecordingError("%s: not a brook recording (no magic %r)" % (path, MAGIC))
        version, size = struct.unpack("<II", start[8:])
        if version != VERSION:
            raise RecordingError("%s: recording format version %d, this reader reads %d"
                                 % (path, version, VERSION))
        if size > MAX_HEADER:
            raise RecordingError("%s: corrupt recording header: %d bytes" % (path, size))
        text = self._read(size)
        if text is None:
            raise RecordingError("%s: corrupt recording header: the file ends inside it" % path)
        try:
            self.header = json.loads(text)
        except ValueError as e:
            raise RecordingError("%s: corrupt recording header: %s" % (path, e)) from None

    def _read(self, n):
        """Exactly n bytes, or None where the file (or its compressed stream) ends."""
        try:
            data = self._f.read(n)
        except (EOFError, zlib.error, OSError):
            return None
        return data if len(data) == n else None

    def __iter__(self):
        """Yields (receive_ns, channel name, envelope bytes) up to the end marker or the cut."""
        channels = [c["name"] for c in self.header["channels"]]
        while True:
            head = self._read(4)
            if head is None:
                self.truncated = "ends after record %d without the end marker" % self.records
                return
            (length,) = struct.unpack("<I", head)
            if length == 0:
                count = self._read(8)
                if count is None or struct.unpack("<Q", count)[0] != self.records:
                    self.truncated = "bad end marker after record %d" % self.records
                return
            body = self._read(length) if 10 <= length <= MAX_RECORD else None
            if body is None:
                self.truncated = "corrupt or cut record after record %d" % self.records
                return
            receive_ns, channel = struct.unpack("<qH", body[:10])
            if channel >= len(channels):
                self.truncated = "record %d names an unknown channel" % (self.records + 1)
                return
            self.records += 1
            yield receive_ns, channels[channel], body[10:]


def main(argv):
    from brook import envelope
    rec = Reader(argv[1])
    for receive_ns, channel, frame in rec:
        m = envelope.decode(frame, decode_payload=False)
        print(receive_ns, channel, m.producer, m.seq, m.type, m.key)
    if rec.truncated:
        print("warning:", rec.truncated, file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
