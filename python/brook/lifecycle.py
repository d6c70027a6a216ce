"""The launch contract's process side: READY/STOPPED lines, signals, log format."""

import fcntl
import logging
import os
import signal
import sys


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


class Formatter(logging.Formatter):
    NAMES = {"WARNING": "WARN", "CRITICAL": "ERROR"}

    def __init__(self, plain, ident):
        super().__init__()
        self.plain = plain
        self.ident = ident

    def format(self, record):
        level = self.NAMES.get(record.levelname, record.levelname)
        text = "%-5s %s" % (level, record.getMessage())
        if self.plain:
            return text
        return "%s %s %s" % (self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), self.ident, text)


def log_setup(level, ident):
    levels = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO,
              "warn": logging.WARNING, "error": logging.ERROR, "off": logging.CRITICAL + 10}
    log = logging.getLogger("brook")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(Formatter(os.environ.get("BROOK_LOG_FORMAT") == "plain", ident))
    log.handlers = [handler]
    log.propagate = False
    log.setLevel(levels.get(level, logging.INFO))
