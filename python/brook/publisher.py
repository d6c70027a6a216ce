"""Pubsub producer side (docs/wire.md, "Pubsub channels"): an XPUB connected to every subscriber
instance, welcoming each hello; output is held until every subscribing node has a welcomed
instance (the node's readiness), then sent as [channel][envelope]. Taps get copies on a PUB.
"""

import logging
import time
from collections import deque

import msgpack
import zmq

log = logging.getLogger("brook")

HELLO_PREFIX = b"~brook/hello/"
MAX_HELLO_ID = 255
MAX_HELLOS = 4096


def node_of(producer_id):
    """'quotes.1@8f3a...' -> 'quotes'."""
    instance = producer_id.split("@", 1)[0]
    return instance.rsplit(".", 1)[0]


class Publisher:
    reliable = False
    tap = False

    def __init__(self, ctx, channel, producer_id, counters, linger_ms, handshake_ms):
        self.channel = channel["name"]
        self.topic = self.channel.encode()
        self.producer_id = producer_id
        self.counters = counters
        self.max_pending = channel["max_pending"]
        self.declared = {c["node"] for c in channel["consumers"]}
        self.xpub = ctx.socket(zmq.XPUB)
        self.tap_pub = ctx.socket(zmq.PUB)
        for s, linger in ((self.xpub, linger_ms), (self.tap_pub, 0)):
            s.setsockopt(zmq.SNDHWM, channel["hwm"])
            s.setsockopt(zmq.RCVHWM, channel["hwm"])
            s.setsockopt(zmq.MAXMSGSIZE, channel["max_message_size"])
            s.setsockopt(zmq.LINGER, linger)
            s.setsockopt(zmq.RECONNECT_IVL, 100)
            s.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
            s.setsockopt(zmq.HANDSHAKE_IVL, handshake_ms)
        self.xpub.setsockopt(zmq.XPUB_NODROP, 1)
        self.subscribers = {}  # entry key -> (endpoint, tap)
        self.welcomed = set()  # hello ids welcomed and not unsubscribed
        self.welcomes = deque()
        self.pending = deque()
        self.open = False
        self.next_seq = 1
        self.stuck = False

    def add_replica(self, key, entry):
        if key in self.subscribers:
            return
        tap = bool(entry["reg"].get("tap"))
        ep = entry["reg"]["endpoint"]
        self.subscribers[key] = (ep, tap)
        (self.tap_pub if tap else self.xpub).connect(ep)

    def remove_replica(self, key):
        v = self.subscribers.pop(key, None)
        if v is None:
            return
        ep, tap = v
        try:
            (self.tap_pub if tap else self.xpub).disconnect(ep)
        except zmq.ZMQError:
            pass

    def node_welcomed(self, node):
        return any(node_of(i) == node for i in self.welcomed)

    def all_welcomed(self):
        return all(self.node_welcomed(n) for n in self.declared)

    def on_socket(self):
        for _ in range(1000):
            try:
                sub = self.xpub.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            if len(sub) < 2 or sub[0] not in (0, 1) or not sub[1:].startswith(HELLO_PREFIX):
                continue
            topic = sub[1:]
            hid = topic[len(HELLO_PREFIX):]
            if not hid or len(hid) > MAX_HELLO_ID:
                continue
            ident = hid.decode("utf-8", "replace")
            if sub[0] == 0:
                self.welcomed.discard(ident)
                continue
            if len(self.welcomed) >= MAX_HELLOS or len(self.welcomes) >= MAX_HELLOS:
                log.warning("not welcoming %s on %s: too many hellos", ident, self.channel)
                continue
            self.welcomed.add(ident)
            self.welcomes.append(topic)
        self.flush(time.monotonic())

    def offer(self, seq, frame, hold):
        self.next_seq = seq + 1
        self.pending.append((seq, frame))
        if self.subscribers_taps():
            try:
                self.tap_pub.send_multipart([self.topic, frame], zmq.NOBLOCK)
            except zmq.Again:
                pass
        self.flush(time.monotonic())

    def subscribers_taps(self):
        return any(tap for _, tap in self.subscribers.values())

    def send_pair(self, topic, body):
        try:
            self.xpub.send(topic, zmq.SNDMORE | zmq.NOBLOCK)
        except zmq.Again:
            return False
        self.xpub.send(body)
        return True

    def flush(self, now):
        self.stuck = False
        while self.welcomes:
            topic = self.welcomes[0]
            first = self.pending[0][0] if self.pending else self.next_seq
            body = msgpack.packb({"v": 1, "publisher": self.producer_id, "channel": self.channel,
                                  "next_seq": first if self.open else first}, use_bin_type=True)
            if not self.send_pair(topic, body):
                self.stuck = True
                return
            self.welcomes.popleft()
        if not self.open:
            return
        while self.pending:
            if not self.send_pair(self.topic, self.pending[0][1]):
                self.stuck = True
                return
            self.pending.popleft()
            self.counters.sent += 1

    def pending_count(self):
        return len(self.pending)

    def unacked(self):
        return len(self.pending)

    def connected_replicas(self):
        return len(self.welcomed)

    def tick(self, now):
        self.flush(now)
        return now + (0.01 if self.stuck else 1.0)

    def sockets(self):
        return [(self.xpub, self.on_socket)]

    def close(self, keep):
        self.xpub.setsockopt(zmq.LINGER, self.xpub.getsockopt(zmq.LINGER) if keep else 0)
        self.xpub.close()
        self.tap_pub.close(0)
