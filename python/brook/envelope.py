"""The brook v1 envelope (docs/wire.md, "The envelope"): encode and strict decode."""

import os
import time

import msgpack

VERSION = 1
MAX_NAME = 255
MAX_KEY = 1024
MAX_HEADERS = 64
MAX_HEADER_VALUE = 4096
TRACE_SIZE = 16          # field 9 without context: the trace id (not sampled, no parent)
SPAN_SIZE = 8
CONTEXT_SIZE = 25        # field 9 with context: trace id, parent span id, trace flags
SAMPLED = 0x01           # trace flags bit 0, as in a W3C traceparent


class DecodeError(ValueError):
    """A frame that is not a valid brook v1 envelope; the text says why."""


class Message:
    """One received message: the envelope's fields plus the decoded payload."""

    __slots__ = ("producer", "seq", "channel", "type", "key", "created_ns", "attempt", "trace",
                 "headers", "raw_payload", "payload", "port", "parent", "flags")

    def __init__(self, producer, seq, channel, type_, key, created_ns, attempt, trace, headers,
                 raw_payload, payload=None, port=None, parent=None, flags=0):
        self.producer = producer
        self.seq = seq
        self.channel = channel
        self.type = type_
        self.key = key
        self.created_ns = created_ns
        self.attempt = attempt
        self.trace = trace
        self.headers = headers
        self.raw_payload = raw_payload
        self.payload = payload
        self.port = port
        self.parent = parent  # 8 bytes: the span that sent it; None in the 16-byte form
        self.flags = flags    # trace flags; SAMPLED: spans are recorded along its trace

    @property
    def sampled(self):
        return bool(self.flags & SAMPLED)

    @property
    def traceparent(self):
        """The W3C form 00-<trace>-<parent>-<flags>, or None without a parent."""
        if self.parent is None:
            return None
        return "00-%s-%s-%02x" % (self.trace.hex(), self.parent.hex(), self.flags)

    @property
    def id(self):
        """(producer, seq): the message id, the same across re-sends."""
        return (self.producer, self.seq)

    def __repr__(self):
        return "Message(%s#%d on %s, %s, key=%r)" % (self.producer, self.seq, self.channel,
                                                     self.type, self.key)


def new_trace():
    return os.urandom(TRACE_SIZE)


def pack_payload(value):
    return msgpack.packb(value, use_bin_type=True)


def encode(producer, seq, channel, type_, payload_bytes, key=None, trace=None, headers=None,
           created_ns=None, parent=None, flags=0):
    """The envelope frame; payload_bytes is one complete msgpack value (pack_payload).

    With `parent` (8 bytes) or `flags`, field 9 is the 25-byte trace context, else the trace id
    alone (docs/wire.md)."""
    check_str("producer", producer, MAX_NAME, allow_empty=False)
    check_str("channel", channel, MAX_NAME)
    check_str("type", type_, MAX_NAME)
    if key is not None:
        check_str("key", key, MAX_KEY)
    headers = headers or {}
    if len(headers) > MAX_HEADERS:
        raise ValueError("more than %d headers" % MAX_HEADERS)
    for k, v in headers.items():
        check_str("header name", k, MAX_NAME)
        check_str("header value", v, MAX_HEADER_VALUE)
    if trace is None:
        trace = new_trace()
    if not isinstance(trace, bytes) or len(trace) != TRACE_SIZE:
        raise ValueError("trace must be %d bytes" % TRACE_SIZE)
    if parent is not None or flags:
        parent = parent if parent is not None else bytes(SPAN_SIZE)
        if not isinstance(parent, bytes) or len(parent) != SPAN_SIZE:
            raise ValueError("parent must be %d bytes" % SPAN_SIZE)
        if not 0 <= flags <= 0xff:
            raise ValueError("flags must fit one byte: %r" % (flags,))
        trace = trace + parent + bytes([flags])
    if not 1 <= seq < 1 << 64:
        raise ValueError("seq out of range: %r" % seq)
    return msgpack.packb([VERSION, producer, seq, channel, type_, key,
                          time.time_ns() if created_ns is None else created_ns, 1, trace,
                          headers, bytes(payload_bytes)], use_bin_type=True)


def check_str(what, value, limit, allow_empty=True):
    if not isinstance(value, str):
        raise ValueError("%s must be a str, got %s" % (what, type(value).__name__))
    n = len(value.encode("utf-8"))
    if n > limit or (n == 0 and not allow_empty):
        raise ValueError("%s: %d bytes, allowed %s..%d" % (what, n, 0 if allow_empty else 1,
                                                             limit))


def _unpack_one(data, what, max_len):
    try:
        # Bounded like brook's decoder: no element count beyond the bytes present.
        return msgpack.unpackb(data, raw=False, strict_map_key=False,
                               max_bin_len=max_len, max_str_len=max_len,
                               max_array_len=max_len, max_map_len=max_len, max_ext_len=max_len)
    except msgpack.ExtraData:
        raise DecodeError("trailing bytes after the %s" % what) from None
    except Exception as e:  # msgpack raises several types for malformed input
        raise DecodeError("malformed %s: %s" % (what, e)) from None


def decode(frame, decode_payload=True):
    """Strictly decode an envelope frame into a Message; raises DecodeError naming the field."""
    if not frame:
        raise DecodeError("empty frame")
    v = _unpack_one(frame, "envelope", len(frame))
    if not isinstance(v, list):
        raise DecodeError("not an array")
    if not v or v[0] != VERSION or isinstance(v[0], bool):
        raise DecodeError("unsupported version %r" % (v[0] if v else None))
    if len(v) != 11:
        raise DecodeError("wrong number of fields: %d, expected 11" % len(v))
    _, producer, seq, channel, type_, key, created, attempt, trace, headers, payload = v
    _want_str("producer", producer, MAX_NAME, 1)
    if not _is_int(seq) or not 1 <= seq < 1 << 64:
        raise DecodeError("seq out of range or not an integer: %r" % (seq,))
    _want_str("channel", channel, MAX_NAME)
    _want_str("type", type_, MAX_NAME)
    if key is not None:
        _want_str("key", key, MAX_KEY)
    if not _is_int(created) or not -(1 << 63) <= created < 1 << 63:
        raise DecodeError("wrong type: created_ns")
    if not _is_int(attempt) or not 1 <= attempt < 1 << 32:
        raise DecodeError("attempt out of range: %r" % (attempt,))
    parent, flags = None, 0
    if not isinstance(trace, bytes) or len(trace) not in (TRACE_SIZE, CONTEXT_SIZE):
        raise DecodeError("trace not %d or %d bytes" % (TRACE_SIZE, CONTEXT_SIZE))
    if len(trace) == CONTEXT_SIZE:
        trace, parent, flags = trace[:TRACE_SIZE], trace[TRACE_SIZE:CONTEXT_SIZE - 1], trace[-1]
    if not isinstance(headers, dict):
        raise DecodeError("wrong type: headers")
    if len(headers) > MAX_HEADERS:
        raise DecodeError("more than %d headers" % MAX_HEADERS)
    for k, val in headers.items():
        _want_str("header name", k, MAX_NAME)
        _want_str("header value", val, MAX_HEADER_VALUE)
    if not isinstance(payload, bytes):
        raise DecodeError("wrong type: payload (expected bin)")
    msg = Message(producer, seq, channel, type_, key, created, attempt, trace, headers, payload,
                  parent=parent, flags=flags)
    if decode_payload:
        msg.payload = decode_payload_bytes(payload)
    return msg


def decode_payload_bytes(payload):
    if not payload:
        raise DecodeError("malformed payload: empty")
    return _unpack_one(payload, "payload", len(payload))


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _want_str(what, value, limit, minimum=0):
    if not isinstance(value, str):
        raise DecodeError("wrong type: %s" % what)
    n = len(value.encode("utf-8"))
    if n < minimum or n > limit:
        raise DecodeError("%s: %d bytes (limit %d)" % (what, n, limit))
