"""Best-effort producer side for one consuming node or one tap (docs/wire.md, PUSH -> PULL).

Messages wait in a bounded queue while no replica is connected (ZMQ_IMMEDIATE keeps them out of
the pipe of a replica that never came up); nothing is acknowledged or re-sent.
"""

import time
from collections import deque

import zmq

from .monitor import Monitor

TAP_HWM = 1000


class BestEffortGroup:
    reliable = False

    def __init__(self, ctx, node, channel, counters, linger_ms, handshake_ms, tap=False):
        self.node = node
        self.tap = tap
        self.counters = counters
        self.max_pending = channel["max_pending"]
        self.sock = ctx.socket(zmq.PUSH)
        s = self.sock
        hwm = TAP_HWM if tap else channel["hwm"]
        s.setsockopt(zmq.SNDHWM, hwm)
        s.setsockopt(zmq.RCVHWM, hwm)
        s.setsockopt(zmq.MAXMSGSIZE, channel["max_message_size"])
        s.setsockopt(zmq.IMMEDIATE, 1)
        s.setsockopt(zmq.LINGER, 0 if tap else linger_ms)
        s.setsockopt(zmq.RECONNECT_IVL, 100)
        s.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        s.setsockopt(zmq.HANDSHAKE_IVL, handshake_ms)
        self.monitor = Monitor(s)
        self.replicas = {}  # entry key -> endpoint
        self.connected = set()
        self.pending = deque()
        self.stuck = False

    def add_replica(self, key, entry):
        if key in self.replicas:
            return
        ep = entry["reg"]["endpoint"]
        self.replicas[key] = ep
        self.sock.connect(ep)

    def remove_replica(self, key):
        ep = self.replicas.pop(key, None)
        if ep is None:
            return
        self.connected.discard(ep)
        try:
            self.sock.disconnect(ep)
        except zmq.ZMQError:
            pass

    def on_monitor(self):
        for event, ep in self.monitor.events():
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.connected.add(ep)
            elif event in (zmq.EVENT_DISCONNECTED, zmq.EVENT_CLOSED):
                self.connected.discard(ep)
        self.flush(time.monotonic())

    def connected_replicas(self):
        return len(self.connected & set(self.replicas.values()))

    def offer(self, seq, frame, hold):
        if self.tap:  # a tap's copies are never held: one it cannot take now is dropped
            try:
                self.sock.send(frame, zmq.NOBLOCK)
            except zmq.Again:
                pass
            return
        self.pending.append(frame)
        self.flush(time.monotonic())

    def pending_count(self):
        return len(self.pending)

    def unacked(self):
        return 0 if self.tap else len(self.pending)

    def flush(self, now):
        self.stuck = False
        while self.pending:
            try:
                self.sock.send(self.pending[0], zmq.NOBLOCK)
            except zmq.Again:
                self.stuck = True
                return
            self.pending.popleft()
            if not self.tap:
                self.counters.sent += 1

    def on_socket(self):
        pass  # a PUSH never receives

    def tick(self, now):
        self.flush(now)
        return now + (0.01 if self.stuck else 1.0)

    def sockets(self):
        return [(self.monitor.pair, self.on_monitor)]

    def close(self, keep):
        self.monitor.close()
        if not keep or self.tap:
            self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.close()
