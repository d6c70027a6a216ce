"""brook for Python: a node of a brook topology, wire-compatible with the C++ runtime.

See docs/python.md. Pure Python on pyzmq and msgpack.
"""

from .envelope import DecodeError, Message
from .errors import BackpressureError, ConfigError, MessageTooLarge
from .node import Node

__all__ = ["Node", "Message", "ConfigError", "BackpressureError", "MessageTooLarge",
           "DecodeError"]
__version__ = "0.1.0"
