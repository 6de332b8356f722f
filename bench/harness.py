"""Process management and wrk driving shared by the benchmark scripts.

Every figure comes from `wrk` (one thread: the machine may have only 2 cores and the servers need
the rest). Next to throughput and latency, each run reports the CPU time the measured server process
spent per request (from /proc): on a shared, noisy machine that is the steadier number.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "PYTHON",
    "ROOT",
    "Load",
    "Result",
    "cpu_seconds",
    "free_port",
    "process",
    "table",
    "wait_port",
    "wrk",
]

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    """A port the OS says is free now (bound to port 0, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


@contextmanager
def process(
    args: Sequence[str],
    port: int,
    env: Mapping[str, str] | None = None,
    *,
    start_timeout: float = 30,
    stop_timeout: float = 5,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server until the block ends; its output goes to /dev/null (production-like logging cost
    without a terminal in the way). The timeouts are for a server that starts or stops slowly (one
    running under valgrind)."""
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    try:
        wait_port(port, proc, timeout=start_timeout)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far; None where /proc is not available."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Load:
    """One kind of request, repeated by wrk."""

    path: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"

    def script(self) -> str:
        """The wrk Lua script; JSON string literals are valid Lua ones for printable ASCII."""
        if not self.body.isascii():
            raise ValueError("wrk bodies here are ASCII (a JSON \\u escape is not Lua)")
        lines = [f"wrk.method = {json.dumps(self.method)}"]
        if self.body:
            lines.append(f"wrk.body = {json.dumps(self.body.decode())}")
        lines += [
            f"wrk.headers[{json.dumps(key)}] = {json.dumps(value)}" for key, value in self.headers.items()
        ]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    cpu_us: float | None  # CPU time of the measured server per request, in microseconds
    connections: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _latency(text: str, percentile: str) -> float:
    match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")


def _number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{text}")
    return float(match.group(1))


def wrk(
    name: str,
    port: int,
    load: Load,
    *,
    seconds: int,
    connections: int,
    pid: int | None = None,
    expect_status: str = "2xx",
) -> Result:
    """One wrk run against 127.0.0.1:port; `pid` is the server whose CPU time is counted.

    `expect_status` "2xx" means every answer must be 2xx/3xx, "error" that none may be: a benchmark
    that silently measures the wrong answer (a 401 instead of a proxied call) is worse than none.
    """
    if shutil.which("wrk") is None:
        raise SystemExit("bench needs wrk (apt-get install wrk)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(load.script())
    before = cpu_seconds(pid) if pid is not None else None
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                script.name,
                f"http://127.0.0.1:{port}{load.path}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    after = cpu_seconds(pid) if pid is not None else None
    requests = int(_number(r"(\d+) requests in", out))
    non_2xx_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    non_2xx = int(non_2xx_match.group(1)) if non_2xx_match else 0
    errors = re.search(r"Socket errors:.*", out)
    if errors is not None and any(int(n) for n in re.findall(r"\d+", errors.group(0))):
        raise RuntimeError(f"{name}: {errors.group(0)}")
    if (expect_status == "2xx" and non_2xx) or (expect_status == "error" and non_2xx != requests):
        raise RuntimeError(
            f"{name}: {non_2xx} of {requests} answers were not 2xx/3xx (expected {expect_status})"
        )
    cpu = (after - before) / requests * 1e6 if before is not None and after is not None and requests else None
    return Result(
        name=name,
        rps=_number(r"Requests/sec:\s+([\d.]+)", out),
        p50_ms=_latency(out, "50"),
        p99_ms=_latency(out, "99"),
        requests=requests,
        non_2xx=non_2xx,
        cpu_us=cpu,
        connections=connections,
    )


def table(results: Sequence[Result]) -> str:
    rows = [f"{'run':<44} {'conns':>5} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10}"]
    for r in results:
        cpu = f"{r.cpu_us:10.0f}" if r.cpu_us is not None else f"{'n/a':>10}"
        rows.append(f"{r.name:<44} {r.connections:>5} {r.rps:>8.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} {cpu}")
    return "\n".join(rows)
