"""Dead letters (docs/reliability.md, "Handler failures"): a message whose handler failed its
last attempt, or whose payload or type its handler cannot take, goes to its channel's
`dead_letter` channel the way the C++ runtime sends it, so brook-dead-letters and `brook dead`
read it: same payload, type, key and trace, the original headers plus the reason headers."""

import logging

from . import envelope
from .errors import ConfigError
from .outputs import Output

log = logging.getLogger("brook")

MAX_ERROR = 1024  # bytes of the error text kept in dead-letter-error
PORT_PREFIX = "~dead-letter:"


def dead_letter_headers(m, error, attempts, node):
    """The original message's headers, then dead-letter-error (at most 1 KiB), -attempts,
    -node (instance name), -channel, -producer and -seq (the original message id)."""
    h = dict(m.headers or {})
    why = error.encode("utf-8")[:MAX_ERROR].decode("utf-8", "ignore")
    for k, v in (("dead-letter-error", why), ("dead-letter-attempts", str(attempts)),
                 ("dead-letter-node", node), ("dead-letter-channel", m.channel),
                 ("dead-letter-producer", m.producer), ("dead-letter-seq", str(m.seq))):
        h.pop(k, None)  # a dead letter's own reason comes last, as the C++ runtime lists it
        h[k] = v
    return h


def error_text(e):
    """What a dead letter and the log say about exception `e`: its text, else its type."""
    text = str(e)
    return text if text else type(e).__name__


class DeadLetters:
    """Mixed into Node: an implicit output per dead_letter channel of its inputs, and sending."""

    def make_dead_letter_outputs(self, hs):
        """Input channels that name a dead_letter channel get an output to it, registered with
        the directory like any output (port ~dead-letter:<channel>)."""
        self.dead_letter_out = {}  # input channel -> Output
        for port, inp in self.inputs.items():
            dl = inp.channel.get("dead_letter")
            if not dl or inp.name in self.dead_letter_out:
                continue
            if dl not in self.settings["channels"]:
                raise ConfigError("channel '%s' (input '%s') names dead_letter '%s', which the "
                                  "resolved settings do not describe: use `brook resolve` of "
                                  "the same release" % (inp.name, port, dl))
            ch = self.chan(dl)
            if ch["pattern"] == "request":
                raise ConfigError("channel '%s': dead_letter '%s' is a request channel, which "
                                  "the brook Python package does not implement (docs/python.md)"
                                  % (inp.name, dl))
            out_port = PORT_PREFIX + inp.name
            out = Output(self.ctx, out_port, {"channel": dl, "durable": False, "fsync": "batch"},
                         ch, self.producer_id, self.counters_of(dl), self.linger_ms, hs)
            self.outputs[out_port] = out
            self.dead_letter_out[inp.name] = out

    def send_dead_letter(self, inp, m, hold, attempts, error):
        """Sends m as a dead letter of its channel, chained to `hold` (m is acknowledged once
        its dead letter is); True when sent (counted in dead_lettered)."""
        out = self.dead_letter_out.get(inp.name)
        if out is None:
            return False
        try:
            frame = envelope.encode(self.producer_id, out.next_seq, out.name, m.type,
                                    m.raw_payload, key=m.key, trace=m.trace,
                                    parent=m.parent, flags=m.flags,
                                    headers=dead_letter_headers(m, error, attempts,
                                                                self.instance_name))
            if len(frame) > out.channel["max_message_size"]:
                raise ValueError("envelope of %d bytes exceeds max_message_size %d of '%s'"
                                 % (len(frame), out.channel["max_message_size"], out.name))
            skip = self.make_room(out)
        except Exception as e:  # too large, too many headers, the channel full: logged
            log.error("cannot dead-letter message %s/%d to '%s': %s", m.producer, m.seq,
                      out.name, error_text(e))
            return False
        seq = out.next_seq
        out.next_seq += 1
        out.counters.emitted += 1
        self.hand_over(out, seq, frame, skip, hold, m.key)
        inp.counters.dead_lettered += 1
        return True
