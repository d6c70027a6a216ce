#!/usr/bin/python3
"""A Python relay: forwards every brook.test.Msg from "in" to "out" (chained acknowledgement),
optionally journalling "source n seq key -" per message before it returns (param journal);
param types: the envelope types it takes (others are decode errors)."""

import os

import brook

node = brook.Node()
journal = str(node.params.get("journal", "")).replace("{instance}", str(node.instance))
fd = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if journal else -1
has_out = "out" in node.settings["outputs"]


@node.on("in", types=node.params.get("types"))
def handle(msg):
    p = msg.payload
    if fd >= 0:
        os.write(fd, ("%s %d %d %s -\n" % (p["source"], p["n"], msg.seq, msg.key or "-")).encode())
    if has_out:
        node.emit("out", p, key=msg.key, type=msg.type)


raise SystemExit(node.run())
