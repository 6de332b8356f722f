"""Ports for tests: one to hand a server that must know its port in advance, and one that refuses."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["free_port", "refused_port"]


def free_port() -> int:
    """A port the OS says is free now, for a server process that must be told its port up front."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def refused_port() -> Iterator[int]:
    """A port where every connection is refused, for as long as the block runs.

    The socket stays bound but never listens: a port merely closed again could be handed to the very
    server under test by its own bind to port 0, and the "dead" upstream would answer.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
