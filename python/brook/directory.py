"""A client of one brook-directory (docs/directory.md, protocol version 3).

Registers the instance with its token, renews the lease with heartbeats carrying counters, keeps
a mirror of the entries of the channels it uses (snapshot + updates, marks, ticks), registers
again after a directory restart, retries a name held by another process (stale_incarnation)
until that lease lapses, and unregisters at stop. A directory that pushes (its hello reply says
so) sends the changes on the dealer too, and the sub stays unconnected. Single-threaded: the
node's loop polls `dealer` and `sub` and calls tick().
"""

import logging
import os
import socket as pysocket
import time

import msgpack
import zmq

log = logging.getLogger("brook")

PROTOCOL = 3
MAX_FRAME = 4 << 20
HELLO_RETRY = 0.5
CONNECT_RETRY = 0.01
REQUEST_TIMEOUT = 1.5
RECONNECT_AFTER = 3 * REQUEST_TIMEOUT


def scoped(topology, channel):
    return "%s/%s" % (topology, channel) if topology else channel


def entry_key(e):
    r = e["reg"]
    return "%s.%d@%s|%s|%s|%s|%s" % (e["node"], e["instance"], e["incarnation"], r["channel"],
                                     r["dir"], r["endpoint"], r.get("port", ""))


class DirectorySession:
    """One directory endpoint; `listener` gets entry_added/entry_removed/registered/name_taken."""

    def __init__(self, ctx, endpoint, identity, registrations, ttl_ms, heartbeat_ms, listener,
                 handshake_ms):
        self.endpoint = endpoint
        self.identity = identity  # node, instance, incarnation, topology, token
        self.registrations = registrations
        self.ttl = ttl_ms / 1000.0
        self.heartbeat = heartbeat_ms / 1000.0
        self.listener = listener
        self.dealer = ctx.socket(zmq.DEALER)
        self.sub = ctx.socket(zmq.SUB)
        for s in (self.dealer, self.sub):
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.RECONNECT_IVL, 100)
            s.setsockopt(zmq.RECONNECT_IVL_MAX, 500)
            s.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME)
            s.setsockopt(zmq.HANDSHAKE_IVL, handshake_ms)
        self.dealer.setsockopt(zmq.IMMEDIATE, 1)
        self.dealer.setsockopt(zmq.SNDHWM, 100)
        self.sub.setsockopt(zmq.RCVHWM, 100000)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"tick")
        topo = identity["topology"]
        self.watched = sorted({r["channel"] for r in registrations})
        for ch in self.watched:
            self.sub.setsockopt(zmq.SUBSCRIBE, ("update:%s:" % scoped(topo, ch)).encode())
            self.sub.setsockopt(zmq.SUBSCRIBE, ("mark:%s:" % scoped(topo, ch)).encode())
        self.dealer.connect(endpoint)
        now = time.monotonic()
        self.next_id = 1
        self.outstanding = {}  # id -> (op, sent at)
        self.phase = "hello"  # hello, registering, registered, gave_up
        self.next_hello = now
        self.next_heartbeat = now
        self.epoch = ""
        self.pub = ""  # the PUB the sub is connected to; "": none
        self.push = False  # the directory pushes our changes on the dealer
        self.entries = {}
        self.channel_seq = {}
        self.have_snapshot = False
        self.needs_snapshot = False
        self.snapshot_in_flight = False
        self.buffered = []
        self.full_reconcile_pending = False
        self.taken_since = None
        self.last_reply = now
        self.last_attempt = 0.0
        self.last_reconnect = now
        self.unregister_sent = False
        self.unregister_done = False
        self.unregister_deadline = 0.0
        self.ever_registered = False
        self.counters = lambda: {}

    # -- requests -------------------------------------------------------------------------------

    def send(self, op, fields, now):
        rid = self.next_id
        self.next_id += 1
        self.last_attempt = now
        req = {"v": PROTOCOL, "op": op, "id": rid}
        req.update(fields)
        try:
            self.dealer.send(msgpack.packb(req, use_bin_type=True), zmq.NOBLOCK)
        except zmq.Again:
            return False  # not connected (IMMEDIATE): retried later
        self.outstanding[rid] = (op, now)
        return True

    def ident(self):
        i = self.identity
        return {"node": i["node"], "instance": i["instance"], "incarnation": i["incarnation"],
                "topology": i["topology"], "token": i["token"]}

    def send_hello(self, now):
        sent = self.send("hello", {"push": True}, now)
        self.next_hello = now + (HELLO_RETRY if sent else CONNECT_RETRY)

    def send_register(self, now):
        fields = self.ident()
        fields.update({"host": pysocket.gethostname()[:255], "pid": os.getpid(),
                       "lease_ms": int(self.ttl * 1000), "registrations": self.registrations})
        if self.push:
            fields["push"] = True
        self.phase = "registering"
        self.next_hello = now + REQUEST_TIMEOUT
        self.send("register", fields, now)

    def snapshot_fields(self):
        return {"topology": self.identity["topology"], "channels": self.watched}

    # -- the loop's calls -------------------------------------------------------------------------

    def tick(self, now):
        """Does what is due; returns the time of the next thing due."""
        for rid, (op, sent) in list(self.outstanding.items()):
            if now - sent > REQUEST_TIMEOUT:
                del self.outstanding[rid]
                if op == "snapshot":
                    self.snapshot_in_flight = False
        if self.unregister_sent:
            if now >= self.unregister_deadline:
                self.unregister_done = True
            return self.unregister_deadline
        heard = max(self.last_reply, self.last_reconnect)
        if self.last_attempt > heard and now - heard > RECONNECT_AFTER:
            self.reconnect(now)
        if self.phase in ("hello", "registering") and now >= self.next_hello:
            self.phase = "hello"
            self.send_hello(now)
        elif self.phase == "registered" and now >= self.next_heartbeat:
            self.next_heartbeat = now + self.heartbeat
            fields = self.ident()
            fields["counters"] = self.counters()
            self.send("heartbeat", fields, now)
        if self.phase != "hello" and self.needs_snapshot and not self.snapshot_in_flight \
                and self.epoch:
            self.snapshot_in_flight = self.send("snapshot", self.snapshot_fields(), now)
        wake = now + REQUEST_TIMEOUT
        if self.phase == "registered":
            wake = min(wake, self.next_heartbeat)
        if self.phase in ("hello", "registering"):
            wake = min(wake, self.next_hello)
        for _, sent in self.outstanding.values():
            wake = min(wake, sent + REQUEST_TIMEOUT + 0.001)
        if self.needs_snapshot and not self.snapshot_in_flight:
            wake = min(wake, now + 0.1)
        return wake

    def reconnect(self, now):
        self.last_reconnect = now
        try:
            self.dealer.disconnect(self.endpoint)
        except zmq.ZMQError:
            pass
        self.dealer.connect(self.endpoint)
        self.outstanding.clear()
        self.snapshot_in_flight = False

    def on_dealer(self):
        for _ in range(100):
            try:
                parts = self.dealer.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(parts) == 2:  # a change the directory pushes, as on its PUB
                self.handle_watch(parts)
                continue
            if len(parts) != 1:
                continue
            try:
                reply = msgpack.unpackb(parts[0], raw=False)
            except Exception:  # malformed: not from a directory
                log.warning("ignoring malformed reply from directory %s", self.endpoint)
                continue
            if isinstance(reply, dict):
                self.handle_reply(reply, time.monotonic())

    def handle_reply(self, r, now):
        sent = self.outstanding.pop(r.get("id"), None)
        if sent is None:
            return
        op = sent[0]
        self.last_reply = now
        if not r.get("ok"):
            return self.handle_error(op, r, now)
        if r.get("op") == "hello":
            return self.handle_hello(r, now)
        if r.get("epoch") != self.epoch:
            if op == "snapshot":
                self.snapshot_in_flight = False
            return self.epoch_seen(r.get("epoch"), now)
        if r.get("op") == "ack":
            if op == "unregister":
                self.unregister_done = True
            elif op == "register":
                if self.taken_since is not None:
                    log.info("the other process's lease lapsed; registered with directory %s",
                             self.endpoint)
                    self.taken_since = None
                self.phase = "registered"
                self.ever_registered = True
                self.next_heartbeat = now + self.heartbeat
                self.listener.registered(self.endpoint)
        elif r.get("op") == "entries":
            self.snapshot_in_flight = False
            self.handle_entries(r)

    def handle_error(self, op, r, now):
        if op == "snapshot":
            self.snapshot_in_flight = False
        if op == "unregister":
            self.unregister_done = True
            return
        code, detail = r.get("error"), r.get("detail", "")
        if code == "unknown_instance":
            log.info("directory %s does not know this instance; registering again", self.endpoint)
            self.send_register(now)
        elif code == "stale_incarnation":
            self.name_taken(detail, now)
        else:
            log.error("directory %s refused %s: %s: %s", self.endpoint, op, code, detail)
            if op == "register":
                self.phase = "hello"
                self.next_hello = now + 5.0

    def name_taken(self, detail, now):
        limit = max(3 * self.ttl, 5.0)
        if self.taken_since is None:
            self.taken_since = now
            log.warning("directory %s: %s; retrying until its lease lapses (giving up after "
                        "%d ms)", self.endpoint, detail, limit * 1000)
        if now - self.taken_since >= limit:
            self.phase = "gave_up"
            i = self.identity
            self.listener.name_taken(
                "%s.%d is still registered by another process at %s after %d ms (%s); give each "
                "process its own --instance, or stop the other one"
                % (i["node"], i["instance"], self.endpoint, (now - self.taken_since) * 1000,
                   detail))
            return
        self.phase = "hello"
        self.next_hello = now + self.heartbeat

    def epoch_seen(self, epoch, now):
        if epoch == self.epoch or self.phase == "hello":
            return
        self.phase = "hello"
        self.send_hello(now)

    def handle_hello(self, r, now):
        if r.get("epoch") != self.epoch:
            if self.epoch:
                log.info("directory %s restarted; registering again", self.endpoint)
                self.full_reconcile_pending = True
            self.epoch = r.get("epoch")
            self.have_snapshot = False
            self.needs_snapshot = True
            self.channel_seq = {}
            self.buffered = []
        # Pushed changes spare the directory a connection to its PUB; a directory before push
        # (no "push" in the reply) is followed there.
        self.push = r.get("push") is True and not self.unregister_sent
        pub = "" if self.push else r.get("pub", "")
        if pub != self.pub:
            if self.pub:
                try:
                    self.sub.disconnect(self.pub)
                except zmq.ZMQError:
                    pass
            self.pub = pub
            if pub:
                self.sub.connect(pub)
        self.send_register(now)
        if self.needs_snapshot and not self.snapshot_in_flight:
            self.snapshot_in_flight = self.send("snapshot", self.snapshot_fields(), now)

    def ours(self, e):
        return (e.get("topology", "") == self.identity["topology"]
                and e.get("reg", {}).get("channel") in self.watched)

    def handle_entries(self, r):
        trust_absence = r.get("settled") or not self.full_reconcile_pending
        present = set()
        for e in r.get("entries", []):
            if not self.ours(e):
                continue
            present.add(entry_key(e))
            self.add_entry(e)
        if trust_absence:
            for k in [k for k in self.entries if k not in present]:
                self.remove_entry(self.entries[k])
            self.full_reconcile_pending = False
        seqs = r.get("channel_seq") or {}
        for ch in self.watched:
            self.channel_seq[ch] = seqs.get(ch, 0)
        self.have_snapshot = True
        self.needs_snapshot = False
        pending, self.buffered = self.buffered, []
        for u in sorted(pending, key=lambda u: u["seq"]):
            self.handle_update(u)

    def on_sub(self):
        for _ in range(1000):
            try:
                parts = self.sub.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(parts) == 2:
                self.handle_watch(parts)

    def handle_watch(self, parts):
        """A change: [topic, map], from the PUB or pushed on the dealer."""
        try:
            body = msgpack.unpackb(parts[1], raw=False)
        except Exception:
            return
        if not isinstance(body, dict):
            return
        kind = parts[0]
        if kind.startswith(b"update:"):
            if body.get("epoch") == self.epoch and isinstance(body.get("entry"), dict):
                self.handle_update(body)
        elif kind.startswith(b"mark:"):
            if body.get("epoch") == self.epoch:
                self.handle_mark(body)
        elif kind == b"tick":
            self.handle_tick(body)

    def handle_update(self, u):
        e = u["entry"]
        if not self.ours(e):
            return
        if not self.have_snapshot:
            if len(self.buffered) < 100000:
                self.buffered.append(u)
            else:
                self.buffered = []
            return
        ch = e["reg"]["channel"]
        last = self.channel_seq.get(ch, 0)
        if u["seq"] <= last:
            return
        if u.get("prev") != last:
            self.needs_snapshot = True
            self.have_snapshot = False
            self.buffered.append(u)
            return
        self.channel_seq[ch] = u["seq"]
        if u.get("op") == "add":
            self.add_entry(e)
        else:
            self.remove_entry(e)

    def handle_tick(self, t):
        if t.get("epoch") != self.epoch:
            if self.epoch:
                self.epoch_seen(t.get("epoch"), time.monotonic())
            return
        if self.full_reconcile_pending and t.get("settled"):
            self.needs_snapshot = True

    def handle_mark(self, m):
        if not self.have_snapshot or m.get("topology", "") != self.identity["topology"]:
            return
        last = self.channel_seq.get(m.get("channel"))
        if last is not None and m.get("seq", 0) > last:
            self.needs_snapshot = True

    def add_entry(self, e):
        k = entry_key(e)
        if k not in self.entries:
            self.entries[k] = e
            self.listener.entry_added(k, e)

    def remove_entry(self, e):
        k = entry_key(e)
        if self.entries.pop(k, None) is not None:
            self.listener.entry_removed(k, e)

    def begin_unregister(self):
        if self.unregister_sent:
            return
        self.unregister_sent = True
        now = time.monotonic()
        self.unregister_deadline = now + 0.5
        if self.phase not in ("registered", "registering") or \
                not self.send("unregister", self.ident(), now):
            self.unregister_done = True

    def close(self):
        self.dealer.close(0)
        self.sub.close(0)
