"""A real Redis for the tests: the machine's own on 127.0.0.1:6379 when it answers, else one we start.

Every test gets its own key prefix, so runs never see each other's keys and nothing is ever flushed.
Tests that stop and restart Redis use `OwnedRedis`, which is always a private server on a free port.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.ports import free_port

SHARED_HOST, SHARED_PORT = "127.0.0.1", 6379


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class OwnedRedis:
    """A redis-server process owned by the test: it can be stopped and started again on the same port."""

    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sidecar-redis-")))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server): tests need it")
        self.proc = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _answers("127.0.0.1", self.port):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def shared_redis_url() -> tuple[str, OwnedRedis | None]:
    """The URL of a Redis the whole run can share, and the server we started for it, if any."""
    if _answers(SHARED_HOST, SHARED_PORT):
        return f"redis://{SHARED_HOST}:{SHARED_PORT}/0", None
    owned = OwnedRedis()
    owned.start()
    return owned.url, owned
