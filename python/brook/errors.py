"""Errors of the brook Python package."""


class ConfigError(Exception):
    """A problem with the launch arguments or the resolved settings: the node exits 2."""


class BackpressureError(Exception):
    """emit() found a consumer group's pending queue full (on_full: fail, or block timed out)."""


class MessageTooLarge(ValueError):
    """The envelope is larger than the channel's max_message_size."""
