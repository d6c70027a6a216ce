"""Input sockets (docs/wire.md): each bound on tcp://<bind>:*, each frame strictly decoded.

receive() returns a list of (Message, routing id or None) for the node to handle, counting and
logging (rate-limited) what it drops.
"""

import logging
import time

import msgpack
import zmq

from . import envelope
from .dedupe import Dedupe

log = logging.getLogger("brook")

BATCH = 256
HELLO_PREFIX = "~brook/hello/"
ACK_FLUSH = 1024


class RateLimited:
    def __init__(self):
        self.last = 0.0

    def __call__(self, fmt, *args):
        now = time.monotonic()
        if now - self.last >= 1.0:
            self.last = now
            log.warning(fmt, *args)


class Input:
    """Common part: the bound socket, decoding and the decode_errors counter."""

    kind = None

    def __init__(self, ctx, port, channel, listen, counters, linger_ms, handshake_ms):
        self.port = port
        self.channel = channel
        self.name = channel["name"]
        self.counters = counters
        self.warn = RateLimited()
        self.sock = ctx.socket(self.kind)
        s = self.sock
        s.setsockopt(zmq.SNDHWM, channel["hwm"])
        s.setsockopt(zmq.RCVHWM, channel["hwm"])
        s.setsockopt(zmq.MAXMSGSIZE, 2 * channel["max_message_size"])
        s.setsockopt(zmq.LINGER, linger_ms)
        s.setsockopt(zmq.HANDSHAKE_IVL, handshake_ms)
        self.configure()
        bind, advertise = listen
        p = s.bind_to_random_port("tcp://%s" % bind)
        self.endpoint = "tcp://%s:%d" % (advertise, p)

    def configure(self):
        pass

    def bad(self, why):
        self.counters.decode_errors += 1
        self.warn("dropping malformed message on port '%s' (channel '%s'): %s (%d decode errors "
                  "on this channel)", self.port, self.name, why, self.counters.decode_errors)

    def decode(self, frame):
        if len(frame) > self.channel["max_message_size"]:
            self.bad("frame larger than max_message_size")
            return None
        try:
            m = envelope.decode(frame, decode_payload=False)
        except envelope.DecodeError as e:
            self.bad(str(e))
            return None
        m.port = self.port
        return m

    def close(self):
        self.sock.close()


class PullInput(Input):
    """Best-effort pipeline: one envelope frame per message."""

    kind = zmq.PULL
    reliable = False

    def receive(self):
        out = []
        for _ in range(BATCH):
            try:
                parts = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            if len(parts) != 1:
                self.bad("expected 1 frame, got %d" % len(parts))
                continue
            m = self.decode(parts[0])
            if m is None:
                continue
            if m.channel != self.name:
                self.bad("wrong channel '%s'" % m.channel)
                continue
            out.append((m, None))
        return out


class SubInput(Input):
    """Pubsub: [channel][envelope]; the hello topic gets welcomes."""

    kind = zmq.SUB
    reliable = False

    def __init__(self, ctx, port, channel, listen, counters, linger_ms, handshake_ms,
                 own_id):
        self.hello = (HELLO_PREFIX + own_id).encode()
        self.welcomed_by = {}   # publisher id -> next_seq it promised
        self.last_seq = {}      # publisher id -> last seq received
        self.publishers = {}    # directory entry key -> id of a publisher the directory lists
        super().__init__(ctx, port, channel, listen, counters, linger_ms, handshake_ms)

    def configure(self):
        # In this order: the channel's subscription is active before the hello is seen.
        self.sock.setsockopt(zmq.SUBSCRIBE, self.channel["name"].encode())
        self.sock.setsockopt(zmq.SUBSCRIBE, self.hello)

    def receive(self):
        out = []
        for _ in range(BATCH):
            try:
                parts = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            if len(parts) != 2:
                self.bad("expected a topic frame and an envelope frame, got %d frames"
                         % len(parts))
                continue
            topic, body = parts
            if topic == self.hello:
                self.welcome(body)
                continue
            if topic != self.name.encode():
                self.bad("topic is not the channel name")
                continue
            m = self.decode(body)
            if m is None:
                continue
            if m.channel != self.name:
                self.bad("wrong channel '%s'" % m.channel)
                continue
            last = self.last_seq.get(m.producer)
            if last is None:
                last = self.welcomed_by.get(m.producer, m.seq) - 1
            if m.seq > last + 1:
                self.counters.gaps += m.seq - last - 1
            if len(self.last_seq) < 4096 or m.producer in self.last_seq:
                self.last_seq[m.producer] = max(m.seq, last)
            out.append((m, None))
        return out

    def welcome(self, body):
        try:
            w = msgpack.unpackb(body, raw=False)
        except Exception:
            return self.bad("malformed welcome")
        if not isinstance(w, dict) or w.get("v") != 1 or not isinstance(w.get("publisher"), str):
            return  # a welcome it does not understand is ignored
        if len(self.welcomed_by) >= 4096 and w["publisher"] not in self.welcomed_by:
            self.welcomed_by.pop(next(iter(self.welcomed_by)))
        self.welcomed_by[w["publisher"]] = w.get("next_seq", 1)
        log.debug("welcomed by %s on %s from seq %s", w["publisher"], self.name,
                  w.get("next_seq"))


class RouterInput(Input):
    """At-least-once pipeline: [routing id][envelope] in, [routing id][ack|drain] out."""

    kind = zmq.ROUTER
    reliable = True

    def __init__(self, *args):
        self.draining = False
        self.peers = {}          # routing id -> whether it was sent a drain frame
        self.acks = {}           # routing id -> [seq, ...] waiting to be sent
        self.ack_count = 0
        self.misrouted_told = set()
        self.holding = set()     # (producer, seq) handled, acknowledgement held (chained)
        super().__init__(*args)
        self.dedupe = Dedupe(self.channel["window"])
        self.last_input = time.monotonic()

    def configure(self):
        self.sock.setsockopt(zmq.ROUTER_MANDATORY, 1)

    def receive(self):
        out = []
        for _ in range(BATCH):
            try:
                parts = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            self.last_input = time.monotonic()
            if len(parts) != 2:
                self.bad("expected 2 frames, got %d" % len(parts))
                continue
            rid, frame = parts
            if rid not in self.peers:
                if len(self.peers) >= 65536:
                    self.peers.pop(next(iter(self.peers)))
                self.peers[rid] = False
                if self.draining:
                    self.tell_drain(rid)
            m = self.decode(frame)
            if m is None:
                continue  # its seq is unknown: nothing to acknowledge
            if m.channel != self.name:
                # A producer with a stale address: not acknowledged, told to send nothing new.
                self.counters.misrouted += 1
                self.warn("envelope of channel '%s' on port '%s' (channel '%s'): not "
                          "acknowledged", m.channel, self.port, self.name)
                if rid not in self.misrouted_told:
                    self.misrouted_told.add(rid)
                    self.send(rid, [1, "drain"])
                continue
            out.append((m, rid))
        return out

    def duplicate(self, m, rid):
        """Whether m was handled already (acknowledged again) or is being handled."""
        if (m.producer, m.seq) in self.holding:
            self.counters.duplicates += 1  # a re-send while its acknowledgement is held
            return True
        if self.dedupe.seen(m.producer, m.seq):
            self.counters.duplicates += 1
            self.ack(rid, m.seq)
            return True
        return False

    def handled(self, m, rid):
        """The message is done with: remember it and acknowledge it."""
        self.holding.discard((m.producer, m.seq))
        if self.dedupe.add(m.producer, m.seq):
            self.warn("producer '%s' on channel '%s' jumped to seq %d", m.producer, self.name,
                      m.seq)
        self.ack(rid, m.seq)

    def ack(self, rid, seq):
        self.acks.setdefault(rid, []).append(seq)
        self.ack_count += 1
        if self.ack_count >= ACK_FLUSH:
            self.flush_acks()

    def flush_acks(self):
        # One frame per producer connection, within max_message_size (9 bytes per seq at most).
        per_frame = max(1, (self.channel["max_message_size"] - 16) // 9)
        for rid, seqs in self.acks.items():
            for i in range(0, len(seqs), per_frame):
                self.send(rid, [1, "ack", seqs[i:i + per_frame]])
        self.acks = {}
        self.ack_count = 0

    def send(self, rid, value):
        try:
            self.sock.send_multipart([rid, msgpack.packb(value, use_bin_type=True)], zmq.NOBLOCK)
        except zmq.ZMQError:
            pass  # gone (EHOSTUNREACH) or full: its producer re-sends

    def begin_drain(self):
        self.draining = True
        for rid in list(self.peers):
            self.tell_drain(rid)

    def tell_drain(self, rid):
        if not self.peers.get(rid):
            self.peers[rid] = True
            self.send(rid, [1, "drain"])
