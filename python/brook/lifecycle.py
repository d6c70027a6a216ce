"""The launch contract's process side: READY/STOPPED lines, signals, log format."""

import fcntl
import json
import logging
import os
import signal
import socket
import sys
import time


def write_fd_line(env, line):
    """Writes one line to the descriptor $env names (BROOK_READY_FD, BROOK_REPORT_FD), once."""
    v = os.environ.pop(env, "")  # children of this process must not write to it
    if not v.isdigit():
        return
    fd = int(v)
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)  # never wait for a reader
        os.write(fd, (line + "\n").encode())
        os.close(fd)
    except OSError:
        pass


def sd_notify(state):
    """systemd's readiness protocol (sd_notify(3)): `state` as one datagram to $NOTIFY_SOCKET
    ('@': an abstract socket). False when unset or the send failed; never blocks."""
    path = os.environ.get("NOTIFY_SOCKET", "")
    if not path or path[0] not in "/@":
        return False
    address = "\0" + path[1:] if path[0] == "@" else path
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.setblocking(False)
            s.sendto(state.encode(), address)
        return True
    except OSError:
        return False


def write_health_file(path, state):
    """`<state> <unix seconds>` in `path`, replaced whole so a probe never reads half a line."""
    try:
        with open(path + ".tmp", "w") as f:
            f.write("%s %d\n" % (state, int(time.time())))
        os.replace(path + ".tmp", path)
    except OSError:
        pass


class Liveness:
    """The systemd watchdog (WATCHDOG=1) and the health file (BROOK_HEALTH_FILE), refreshed by
    the loop every heartbeat, or every half WATCHDOG_USEC when shorter (docs/deploy.md)."""

    def __init__(self, period_s):
        usec = os.environ.get("WATCHDOG_USEC", "")
        pid = os.environ.get("WATCHDOG_PID", "")
        self.watchdog = usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid()))
        if self.watchdog:
            period_s = min(period_s, int(usec) / 2e6)
        self.health_file = os.environ.get("BROOK_HEALTH_FILE", "")
        self.period = max(period_s, 0.001)
        self.next = time.monotonic() if self.watchdog or self.health_file else float("inf")

    def tick(self, now, state):
        if now < self.next:
            return
        self.next = now + self.period
        if self.watchdog:
            sd_notify("WATCHDOG=1")
        if self.health_file:
            write_health_file(self.health_file, state)


class SignalPipe:
    """SIGTERM and SIGINT stop the node; the poll loop wakes on the pipe's read end."""

    def __init__(self, stop):
        self.r, self.w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.fd = self.r
        self.count = 0
        self.name = ""
        self.stop = stop
        signal.set_wakeup_fd(self.w)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.on_signal)

    def on_signal(self, sig, frame):
        self.count += 1
        self.name = signal.Signals(sig).name
        self.stop()

    def drain(self):
        try:
            while os.read(self.r, 512):
                pass
        except BlockingIOError:
            pass

    def close(self):
        signal.set_wakeup_fd(-1)
        os.close(self.r)
        os.close(self.w)


class LogContext:
    """The message being handled, for JSON log lines (set around each handler call)."""
    message = None


class Formatter(logging.Formatter):
    NAMES = {"WARNING": "WARN", "CRITICAL": "ERROR"}

    def __init__(self, fmt, ident, node):
        super().__init__()
        self.fmt = fmt  # text | plain | json
        self.ident = ident
        self.node = node

    def format(self, record):
        level = self.NAMES.get(record.levelname, record.levelname)
        if self.fmt == "json":
            return self.json_line(record, level)
        text = "%-5s %s" % (level, record.getMessage())
        if self.fmt == "plain":
            return text
        return "%s %s %s" % (self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), self.ident, text)

    def json_line(self, record, level):
        """The fields of the C++ runtime's JSON lines (docs/monitoring.md, "Logs")."""
        t = time.gmtime(record.created)
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%03dZ" % record.msecs,
                "level": level.lower(), "instance": self.ident, "node": self.node,
                "msg": record.getMessage()}
        m = LogContext.message
        if m is not None:
            line["channel"] = m.channel
            line["message_id"] = "%s:%d" % (m.producer, m.seq)
            line["trace_id"] = m.trace.hex()
        return json.dumps(line, ensure_ascii=False)


LOG_FORMATS = ("text", "plain", "json")


def log_setup(level, ident, node, fmt=None):
    """`fmt`: --log-format or the topology's log.format; None: $BROOK_LOG_FORMAT, else text."""
    levels = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO,
              "warn": logging.WARNING, "error": logging.ERROR, "off": logging.CRITICAL + 10}
    if fmt is None:
        fmt = os.environ.get("BROOK_LOG_FORMAT")
        if fmt not in LOG_FORMATS:
            fmt = "text"
    log = logging.getLogger("brook")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(Formatter(fmt, ident, node))
    log.handlers = [handler]
    log.propagate = False
    log.setLevel(levels.get(level, logging.INFO))
