"""An output port: its channel's sequence numbers and one sender per consuming node (pipeline)
or one publisher (pubsub), plus taps. Entries of undeclared consumers are ignored (logged)."""

import collections
import logging
import time

import msgpack
import zmq

from .best_effort_sender import BestEffortGroup
from .publisher import Publisher
from .reliable_sender import ReliableGroup

log = logging.getLogger("brook")

MAX_TAPS = 16


class Output:
    def __init__(self, ctx, port, spec, channel, producer_id, counters, linger_ms, handshake_ms):
        self.ctx = ctx
        self.port = port
        self.spec = spec
        self.channel = channel
        self.name = channel["name"]
        self.counters = counters
        self.linger_ms = linger_ms
        self.handshake_ms = handshake_ms
        self.next_seq = 1
        self.declared = {c["node"] for c in channel["consumers"]}
        self.pubsub = channel["pattern"] == "pubsub"
        self.reliable = not self.pubsub and channel["delivery"] == "at-least-once"
        self.warned = set()
        self.producer_id = producer_id
        self.refused = set()
        self.refused_at = collections.deque(maxlen=MAX_TAPS)
        self.refuser = None
        self.groups = {}  # group key (node, or ~tap/<instance>) -> sender
        self.group_of = {}  # entry key -> group key
        if self.pubsub:
            self.groups[""] = Publisher(ctx, channel, producer_id, counters, linger_ms,
                                        handshake_ms)
        else:
            for n in sorted(self.declared):
                self.groups[n] = self.new_group(n, tap=False)

    def new_group(self, node, tap):
        if self.reliable and not tap:
            return ReliableGroup(self.ctx, node, self.channel, self.counters, self.linger_ms,
                                 self.handshake_ms)
        return BestEffortGroup(self.ctx, node, self.channel, self.counters, self.linger_ms,
                               self.handshake_ms, tap=tap)

    def entry_added(self, key, e):
        tap = bool(e["reg"].get("tap"))
        instance = "%s.%d" % (e["node"], e["instance"])
        if not tap and e["node"] not in self.declared:
            if e["node"] not in self.warned:
                self.warned.add(e["node"])
                log.warning("ignoring %s: it reads '%s' but the topology does not list it as a "
                            "consumer", instance, self.name)
            return None
        if self.pubsub:
            gk = ""
        elif tap:
            gk = "~tap/" + instance
            if gk not in self.groups:
                if sum(1 for g in self.groups.values() if g.tap) >= MAX_TAPS:
                    self.refuse_tap(instance, e["reg"]["endpoint"])
                    return None
                self.groups[gk] = self.new_group(e["node"], tap=True)
                self.groups_changed = True
        else:
            gk = e["node"]
        self.group_of[key] = gk
        self.groups[gk].add_replica(key, e)
        return gk

    def refuse_tap(self, instance, endpoint):
        """wire.md "Taps": one tap-refused frame per tap instance, at most 16 a second."""
        now = time.monotonic()
        if instance in self.refused or len(self.refused_at) >= MAX_TAPS and \
                now - self.refused_at[0] < 1.0:
            return
        self.refused.add(instance)
        self.refused_at.append(now)
        log.warning("refusing tap %s on '%s': it serves %d taps already", instance, self.name,
                    MAX_TAPS)
        if self.refuser is not None:
            self.refuser.close(0)  # kept open until the next refusal or the stop
        self.refuser = self.ctx.socket(zmq.PUSH)
        self.refuser.setsockopt(zmq.SNDHWM, 1)
        self.refuser.setsockopt(zmq.HANDSHAKE_IVL, self.handshake_ms)
        self.refuser.connect(endpoint)
        frame = msgpack.packb([1, "tap-refused", {"producer": self.producer_id,
                                                  "channel": self.name, "limit": MAX_TAPS}])
        try:
            self.refuser.send(frame, zmq.NOBLOCK)
        except zmq.Again:
            pass

    def entry_removed(self, key):
        gk = self.group_of.pop(key, None)
        if gk is None or gk not in self.groups:
            return
        g = self.groups[gk]
        g.remove_replica(key)
        if g.tap and not any(v == gk for v in self.group_of.values()):
            g.close(False)
            del self.groups[gk]

    def ready(self):
        """What keeps this output from being ready, or None."""
        if self.pubsub:
            pub = self.groups[""]
            missing = [n for n in sorted(self.declared) if not pub.node_welcomed(n)]
        else:
            missing = [n for n in sorted(self.declared) if not self.groups[n].connected_replicas()]
        if missing:
            return "'%s' waits for %s" % (self.name, ", ".join(missing))
        return None

    def close(self, keep):
        for g in self.groups.values():
            g.close(keep)
        if self.refuser is not None:
            self.refuser.close(0)

    def unacked(self):
        return sum(g.unacked() for g in self.groups.values() if not g.tap)
