"""Ports for tests: one to hand a server that must know its port in advance, and one that refuses."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["free_port", "refused_port"]

_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_BELOW_EPHEMERAL = 8192  # how many ports under the ephemeral range to pick from
_handed_out: set[int] = set()


def _ephemeral_start() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A port for a server process that must be told its port up front (its config names it).

    Picked at random just below the ephemeral range and checked free now. The OS takes ports for
    port-0 binds and for outgoing connections from the ephemeral range only, so between this call and
    the child's own bind no other server or client of the test run can take this one, as it could a
    port the OS had just handed out and taken back. Never the same port twice in one run.
    """
    start = _ephemeral_start()
    low = max(1024, start - _BELOW_EPHEMERAL)
    for _ in range(200):
        port = random.randrange(low, start)
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port found in {low}-{start - 1}")


@contextmanager
def refused_port() -> Iterator[int]:
    """A port where every connection is refused, for as long as the block runs.

    The socket stays bound but never listens: a port merely closed again could be handed to the very
    server under test by its own bind to port 0, and the "dead" upstream would answer.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
