"""At-least-once producer side for one consuming node (docs/wire.md, ROUTER -> ROUTER).

One ROUTER per consuming node, connected to each live replica with its own routing id
r<N>.<M> (N per replica, M per connection). Every message stays in flight until acknowledged;
it is re-sent, oldest first, when its replica disconnects or leaves the directory, or after
ack_timeout. A replica that sent a drain frame gets nothing new.
"""

import hashlib
import heapq
import logging
import time
from collections import deque

import msgpack
import zmq

from .monitor import Monitor

log = logging.getLogger("brook")

RETRY_FIRST = 0.01
RETRY_SECOND = 0.1
RETRY_MAX = 1.0
HANDSHAKE_WAIT = 2.0
SCAN_EVERY = 0.1
OWNER_ATTEMPTS = 3


class Replica:
    __slots__ = ("name", "endpoint", "number", "conn", "rid", "state", "draining", "inflight",
                 "since", "retries", "next_attempt")

    def __init__(self, name, endpoint, number):
        self.name = name
        self.endpoint = endpoint
        self.number = number
        self.conn = -1
        self.rid = b""
        self.state = "idle"  # idle, connecting, connected, waiting (to retry)
        self.draining = False
        self.inflight = set()
        self.since = 0.0
        self.retries = 0
        self.next_attempt = 0.0


class InFlight:
    __slots__ = ("frame", "replica", "sent", "hold", "key")

    def __init__(self, frame, hold, key):
        self.frame = frame
        self.replica = None
        self.sent = 0.0
        self.hold = hold
        self.key = key  # the ordering key's bytes with order_by: key, else None


class ReliableGroup:
    reliable = True
    tap = False

    def __init__(self, ctx, node, channel, counters, linger_ms, handshake_ms):
        self.node = node
        self.channel = channel
        self.counters = counters
        self.linger_ms = linger_ms
        self.ack_timeout = channel["ack_timeout_ms"] / 1000.0
        self.window = channel["window"]
        self.order_by_key = channel.get("order_by") == "key"
        self.sock = ctx.socket(zmq.ROUTER)
        s = self.sock
        s.setsockopt(zmq.SNDHWM, channel["hwm"])
        s.setsockopt(zmq.RCVHWM, channel["hwm"])
        s.setsockopt(zmq.MAXMSGSIZE, channel["max_message_size"])
        s.setsockopt(zmq.ROUTER_MANDATORY, 1)
        s.setsockopt(zmq.RECONNECT_IVL, -1)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.HANDSHAKE_IVL, handshake_ms)
        self.monitor = Monitor(s)
        self.replicas = {}   # entry key -> Replica
        self.by_endpoint = {}
        self.by_rid = {}
        self.numbers = 0
        self.inflight = {}   # seq -> InFlight, in first-send order (so the first is the oldest)
        self.resend = []     # heap of seqs taken back
        self.pending = deque()  # (seq, frame, hold) not sent yet
        self.next_scan = time.monotonic() + SCAN_EVERY
        self.stuck = False
        self.turn = 0

    # -- replicas ------------------------------------------------------------------------------

    def add_replica(self, key, entry):
        if key in self.replicas:
            return
        ep = entry["reg"]["endpoint"]
        old = self.by_endpoint.get(ep)
        if old is not None:  # a new process on an old port: the old one is gone
            self.remove_replica(old.name)
        self.numbers += 1
        r = Replica(key, ep, self.numbers)
        self.replicas[key] = r
        self.by_endpoint[ep] = r
        self.connect(r, time.monotonic())

    def remove_replica(self, key):
        r = self.replicas.pop(key, None)
        if r is None:
            return
        self.by_endpoint.pop(r.endpoint, None)
        self.by_rid.pop(r.rid, None)
        self.take_back(r)
        self.disconnect(r)

    def connect(self, r, now):
        self.by_rid.pop(r.rid, None)
        r.conn += 1
        r.rid = ("r%d.%d" % (r.number, r.conn)).encode()
        self.by_rid[r.rid] = r
        r.state = "connecting"
        r.since = now
        self.sock.setsockopt(zmq.CONNECT_ROUTING_ID, r.rid)
        self.sock.connect(r.endpoint)

    def disconnect(self, r):
        try:
            self.sock.disconnect(r.endpoint)
        except zmq.ZMQError:
            pass  # libzmq already ended it

    def take_back(self, r):
        for seq in r.inflight:
            f = self.inflight.get(seq)
            if f is not None:
                f.replica = None
                heapq.heappush(self.resend, seq)
                self.counters.redelivered += 1
        r.inflight = set()

    def retry_later(self, r, now):
        self.disconnect(r)
        r.state = "waiting"
        delay = RETRY_FIRST if r.retries == 0 else min(RETRY_SECOND * (2 ** (r.retries - 1)),
                                                       RETRY_MAX)
        r.retries += 1
        r.next_attempt = now + delay

    def on_monitor(self):
        now = time.monotonic()
        for event, ep in self.monitor.events():
            r = self.by_endpoint.get(ep)
            if r is None:
                continue
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                if r.state == "connecting":
                    r.state = "connected"
                    r.retries = 0
                    r.draining = False
            elif r.state == "connected" and event == zmq.EVENT_DISCONNECTED:
                # Take back what it held and connect again at once with a new routing id.
                self.take_back(r)
                self.disconnect(r)
                self.connect(r, now)
            elif r.state == "connecting":
                self.retry_later(r, now)
        self.flush(now)

    def connected_replicas(self):
        return sum(1 for r in self.replicas.values() if r.state == "connected")

    # -- sending -------------------------------------------------------------------------------

    def offer(self, seq, frame, hold, key=None):
        if hold is not None:
            hold.take()
        if not self.order_by_key or key is None:
            key = None
        else:
            key = key.encode()
        self.pending.append((seq, frame, hold, key))
        self.flush(time.monotonic())

    def pending_count(self):
        return len(self.pending) + len(self.resend)

    def unacked(self):
        return len(self.inflight) + len(self.pending)

    def candidates(self):
        rs = [r for r in self.replicas.values() if r.state == "connected" and not r.draining]
        if len(rs) > 1:
            self.turn += 1
            k = self.turn % len(rs)
            rs = rs[k:] + rs[:k]
        return sorted(rs, key=lambda r: len(r.inflight))

    def owner(self, key):
        """Rendezvous hashing over the replicas still taken for alive: a transient disconnect
        (fewer than OWNER_ATTEMPTS failed connection attempts) does not move a key."""
        alive = [r for r in self.replicas.values()
                 if not r.draining and (r.state == "connected" or r.retries < OWNER_ATTEMPTS)]
        if not alive:
            return None
        return max(alive, key=lambda r: hashlib.blake2b(key + b"\0" + r.name.encode(),
                                                        digest_size=8).digest())

    def send_one(self, seq, f, now):
        if f.key is not None:
            owner = self.owner(f.key)
            # The owner's messages wait for it (and everything behind them): order first.
            rs = [owner] if owner is not None and owner.state == "connected" else []
        else:
            rs = self.candidates()
        for r in rs:
            try:
                self.sock.send_multipart([r.rid, f.frame], zmq.NOBLOCK)
            except zmq.Again:
                continue  # its pipe is full: another one
            except zmq.ZMQError as e:
                if e.errno == zmq.EHOSTUNREACH:
                    continue  # not connected (any more): the monitor will say
                raise
            f.replica = r
            f.sent = now
            r.inflight.add(seq)
            self.counters.sent += 1
            return True
        return False

    def flush(self, now):
        self.stuck = False
        while self.resend:
            seq = self.resend[0]
            f = self.inflight.get(seq)
            if f is None or f.replica is not None:
                heapq.heappop(self.resend)
                continue
            if not self.send_one(seq, f, now):
                self.stuck = True
                return
            heapq.heappop(self.resend)
        while self.pending:
            seq, frame, hold, key = self.pending[0]
            if self.inflight and seq - next(iter(self.inflight)) >= self.window:
                return  # the window is full: wait for acknowledgements
            f = InFlight(frame, hold, key)
            if not self.send_one(seq, f, now):
                self.stuck = True
                return
            self.pending.popleft()
            self.inflight[seq] = f

    def on_socket(self):
        for _ in range(1000):
            try:
                parts = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            if len(parts) != 2:
                self.counters.decode_errors += 1
                continue
            self.control(parts[0], parts[1])
        self.flush(time.monotonic())

    def control(self, rid, frame):
        try:
            v = msgpack.unpackb(frame, raw=False)
        except Exception:
            v = None
        if not isinstance(v, list) or len(v) < 2 or v[0] != 1:
            self.counters.decode_errors += 1
            return
        if v[1] == "ack" and len(v) == 3 and isinstance(v[2], list):
            for seq in v[2]:
                if isinstance(seq, int) and not isinstance(seq, bool) and seq > 0:
                    self.acked(seq)
        elif v[1] == "drain" and len(v) == 2:
            r = self.by_rid.get(rid)
            if r is not None:
                r.draining = True
        else:
            self.counters.decode_errors += 1

    def acked(self, seq):
        f = self.inflight.pop(seq, None)
        if f is None:
            return
        if f.replica is not None:
            f.replica.inflight.discard(seq)
        if f.hold is not None:
            f.hold.release()

    def tick(self, now):
        """Connection retries, ack timeouts; returns when it wants to be called again."""
        wake = now + 1.0
        for r in list(self.replicas.values()):
            if r.state == "waiting" and now >= r.next_attempt:
                self.connect(r, now)
            elif r.state == "connecting" and now - r.since > HANDSHAKE_WAIT:
                self.retry_later(r, now)
            if r.state == "waiting":
                wake = min(wake, r.next_attempt)
            elif r.state == "connecting":
                wake = min(wake, r.since + HANDSHAKE_WAIT)
        if now >= self.next_scan:
            self.next_scan = now + SCAN_EVERY
            for seq, f in self.inflight.items():
                if f.replica is not None and now - f.sent > self.ack_timeout:
                    f.replica.inflight.discard(seq)
                    f.replica = None
                    heapq.heappush(self.resend, seq)
                    self.counters.redelivered += 1
        if self.inflight:
            wake = min(wake, self.next_scan)
        self.flush(now)
        if self.stuck and self.connected_replicas():
            wake = min(wake, now + 0.01)  # a full pipe: try again shortly
        return wake

    def sockets(self):
        return [(self.sock, self.on_socket), (self.monitor.pair, self.on_monitor)]

    def close(self, keep):
        self.monitor.close()
        self.sock.setsockopt(zmq.LINGER, self.linger_ms if keep and self.inflight else 0)
        self.sock.close()
