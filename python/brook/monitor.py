"""Connection state of a connecting socket, from its ZeroMQ socket monitor."""

import zmq
from zmq.utils.monitor import recv_monitor_message

EVENTS = (zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED | zmq.EVENT_CLOSED
          | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
          | zmq.EVENT_HANDSHAKE_FAILED_AUTH)


class Monitor:
    def __init__(self, socket):
        self.pair = socket.get_monitor_socket(EVENTS)
        self.socket = socket

    def events(self, limit=1000):
        """(event, endpoint) pairs ready now."""
        out = []
        for _ in range(limit):
            try:
                m = recv_monitor_message(self.pair, zmq.NOBLOCK)
            except zmq.Again:
                break
            ep = m["endpoint"]
            out.append((m["event"], ep.decode() if isinstance(ep, bytes) else ep))
        return out

    def close(self):
        try:
            self.socket.disable_monitor()
        except zmq.ZMQError:
            pass
        self.pair.close(0)
