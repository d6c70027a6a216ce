#!/usr/bin/python3
"""A Python source for the interop tests: emits `count` brook.test.Msg maps on "out" at `rate`
per second once ready (0: as fast as the window allows), then stops (a job)."""

import brook

node = brook.Node()
count = int(node.params.get("count", 1000))
rate = int(node.params.get("rate", 0))
keys = int(node.params.get("keys", 0))
sent = 0


def send_some():
    global sent
    for _ in range(max(1, rate // 100) if rate else 200):
        if sent >= count:
            break
        sent += 1
        key = "k%d" % (sent % keys) if keys else None
        node.emit("out", {"n": sent, "source": node.instance_name, "body": "py"}, key=key,
                  type="brook.test.Msg")
    if sent >= count:
        node.stop()


@node.on_ready
def go():
    node.every(0.01 if rate else 0.001, send_some)


@node.on_stop
def done():
    print("SENT %d" % sent, flush=True)


raise SystemExit(node.run())
