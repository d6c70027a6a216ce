"""Launch arguments and the resolved settings of one instance (docs/python.md).

The settings are the JSON document `brook resolve --json` prints: from the file $BROOK_RESOLVED
names (`brook up` writes it), else by running `brook resolve` with the launch arguments.
"""

import argparse
import json
import os
import shutil
import subprocess

from .errors import ConfigError

SCHEMA_VERSION = 1


def parse_args(argv):
    """The launch contract's options; returns (namespace, the node's own arguments)."""
    p = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    p.add_argument("--topology")
    p.add_argument("--node")
    p.add_argument("--instance", type=int, default=None)
    p.add_argument("--directory", action="append", default=[])
    p.add_argument("--advertise")
    p.add_argument("--bind")
    p.add_argument("--set", action="append", default=[], dest="overrides")
    p.add_argument("--log-level", default="info")
    p.add_argument("--log-format", choices=("text", "plain", "json"))
    p.add_argument("--ready-timeout")
    p.add_argument("--drain-timeout")
    try:
        ns, rest = p.parse_known_args(argv)
    except SystemExit:
        raise ConfigError("bad launch arguments: %s" % " ".join(argv)) from None
    return ns, rest


def find_brook():
    """The brook CLI: $BROOK_BIN, else `brook` on $PATH."""
    explicit = os.environ.get("BROOK_BIN")
    if explicit:
        return explicit
    found = shutil.which("brook")
    if not found:
        raise ConfigError("BROOK_RESOLVED is not set and no `brook` is on $PATH: start the node "
                          "with `brook up`, or set BROOK_BIN to the brook executable")
    return found


def run_resolve(ns):
    if not ns.topology or not ns.node:
        raise ConfigError("BROOK_RESOLVED is not set: give --topology FILE --node NAME "
                          "[--instance I] (or start the node with `brook up`)")
    cmd = [find_brook(), "resolve", ns.topology, "--node", ns.node, "--json"]
    if ns.instance is not None:
        cmd += ["--instance", str(ns.instance)]
    for o in ns.overrides:
        cmd += ["--set", o]
    for d in ns.directory:
        cmd += ["--directory", d]
    if ns.advertise:
        cmd += ["--advertise", ns.advertise]
    if ns.bind:
        cmd += ["--bind", ns.bind]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except OSError as e:
        raise ConfigError("cannot run %s: %s" % (cmd[0], e)) from None
    if r.returncode != 0:
        raise ConfigError("`%s` failed (exit %d):\n%s" % (" ".join(cmd), r.returncode,
                                                          r.stderr.strip()))
    return r.stdout, "brook resolve"


def duration_ms(text, what):
    """'250ms', '2s', '1m' or a bare number of milliseconds."""
    units = (("ms", 1), ("s", 1000), ("m", 60000))
    for suffix, factor in units:
        if text.endswith(suffix) and text[:-len(suffix)].replace(".", "", 1).isdigit():
            return int(float(text[:-len(suffix)]) * factor)
    if text.isdigit():
        return int(text)
    raise ConfigError("%s: expected a duration like 250ms or 2s, got '%s'" % (what, text))


def load(argv):
    """(settings dict, own arguments, log level) for this process; raises ConfigError."""
    ns, rest = parse_args(argv)
    path = os.environ.get("BROOK_RESOLVED")
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                text, origin = f.read(), path
        except OSError as e:
            raise ConfigError("BROOK_RESOLVED=%s: %s" % (path, e.strerror)) from None
    else:
        text, origin = run_resolve(ns)
    try:
        s = json.loads(text)
    except ValueError as e:
        raise ConfigError("%s: not JSON: %s" % (origin, e)) from None
    check(s, origin, ns)
    if ns.ready_timeout:
        s["ready_timeout_ms"] = duration_ms(ns.ready_timeout, "--ready-timeout")
    if ns.drain_timeout:
        s["drain_timeout_ms"] = duration_ms(ns.drain_timeout, "--drain-timeout")
    if ns.log_format:
        s["log_format"] = ns.log_format
    return s, rest, ns.log_level


def check(s, origin, ns):
    if not isinstance(s, dict) or s.get("version") != SCHEMA_VERSION:
        raise ConfigError("%s: resolved settings of version %r; this package reads version %d "
                          "(use the brook and brook Python package of one release)"
                          % (origin, s.get("version") if isinstance(s, dict) else None,
                             SCHEMA_VERSION))
    for key in ("topology", "node", "instance", "advertise", "directory", "security", "inputs",
                "outputs", "channels", "drain_timeout_ms", "ready_timeout_ms"):
        if key not in s:
            raise ConfigError("%s: key '%s' missing" % (origin, key))
    if ns.node and ns.node != s["node"]:
        raise ConfigError("%s is for node '%s', but --node says '%s'" % (origin, s["node"],
                                                                        ns.node))
    if ns.instance is not None and ns.instance != s["instance"]:
        raise ConfigError("%s is for instance %d, but --instance says %d"
                          % (origin, s["instance"], ns.instance))
    mechanism = (s.get("security") or {}).get("mechanism", "none")
    if mechanism != "none":
        raise ConfigError(
            "topology %s uses security mechanism '%s', which the brook Python package does not "
            "implement: run this node's topology without CURVE, or write the node in C++ "
            "(docs/python.md)" % (s.get("file", s["topology"]), mechanism))
    for port, spec in list(s["inputs"].items()) + list(s["outputs"].items()):
        ch = spec.get("channel")
        if ch not in s["channels"]:
            raise ConfigError("%s: port '%s' names channel '%s', which has no settings"
                              % (origin, port, ch))
        if s["channels"][ch]["pattern"] == "request":
            raise ConfigError("port '%s': channel '%s' is a request channel, which the brook "
                              "Python package does not implement yet (docs/python.md)"
                              % (port, ch))
