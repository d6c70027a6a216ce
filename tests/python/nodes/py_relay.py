#!/usr/bin/python3
"""A Python relay: forwards every brook.test.Msg from "in" to "out" (chained acknowledgement),
optionally journalling "source n seq key -" per message before it returns (param journal);
param types: the envelope types it takes (others are decode errors). Failure injection as in
brook-test-sink: message n with n % fail_mod == 0 always raises (poison), with n % flaky_mod == 0
it raises on its first attempt only (transient). Param report: a file that gets the node's
channel counters as JSON when it stops."""

import json
import os

import brook

node = brook.Node()
journal = str(node.params.get("journal", "")).replace("{instance}", str(node.instance))
fd = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if journal else -1
has_out = "out" in node.settings["outputs"]
fail_mod = int(node.params.get("fail_mod", 0))
flaky_mod = int(node.params.get("flaky_mod", 0))


@node.on("in", types=node.params.get("types"))
def handle(msg):
    p = msg.payload
    if fail_mod and p["n"] % fail_mod == 0:
        raise RuntimeError("poison message %d" % p["n"])
    if flaky_mod and p["n"] % flaky_mod == 0 and msg.attempt == 1:
        raise RuntimeError("transient failure on %d" % p["n"])
    if fd >= 0:
        os.write(fd, ("%s %d %d %s -\n" % (p["source"], p["n"], msg.seq, msg.key or "-")).encode())
    if has_out:
        node.emit("out", p, key=msg.key, type=msg.type)


code = node.run()
if node.params.get("report"):
    with open(str(node.params["report"]).replace("{instance}", str(node.instance)), "w") as f:
        json.dump({ch: c.as_dict() for ch, c in node.counters.items()}, f)
raise SystemExit(code)
