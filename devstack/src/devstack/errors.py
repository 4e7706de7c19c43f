"""The failure devstack reports as one message, without a traceback."""


class DevstackError(Exception):
    """An expected failure (busy port, bad setting, a server that would not start)."""
