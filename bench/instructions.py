"""Instructions per request, counted by callgrind: the same figure on a quiet machine and a busy one.

    .venv/bin/python -m bench.instructions                  (passthrough, MCP ping, tools/call, 429)
    .venv/bin/python -m bench.instructions --requests 500 pass ping

Throughput and CPU time move by 5 to 10% between runs on a shared 2-core machine; an instruction count
hardly does (0.1 to 0.2% between runs of the same code; periodic work such as cache refreshes still
lands in it). So this answers "did that change make the path cheaper?" where the wrk figures cannot
tell 2% from noise. It is not a throughput
figure: a longer path also runs with colder caches, so time ratios come out below instruction ratios.

The sidecar runs under `valgrind --tool=callgrind` (about 50 times slower) with the same generated
config as bench.run, in front of the bench upstream. Requests go one at a time on one keep-alive
connection; each load is warmed up, then counted alone (callgrind's counters zeroed before and dumped
after), and every answer is checked.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from bench.harness import PYTHON, free_port, process
from bench.run import (
    CALL_BODY,
    JSON_HEADERS,
    MCP_PATH,
    PASSTHROUGH_PATH,
    PING_BODY,
    issue_key,
    mcp_headers,
    open_session,
    sidecar_config,
)

# name -> (path, body, site whose key and session it uses (None: no credential), expected status)
LOADS: dict[str, tuple[str, bytes, str | None, int]] = {
    "pass": (PASSTHROUGH_PATH, PING_BODY, None, 200),
    "ping": (MCP_PATH, PING_BODY, "bench", 200),
    "passcall": (PASSTHROUGH_PATH, CALL_BODY, None, 200),
    "call": (MCP_PATH, CALL_BODY, "bench", 200),
    "429": (MCP_PATH, CALL_BODY, "tight", 429),
}
COMPARISONS = (("ping", "pass"), ("call", "passcall"), ("429", "passcall"))
_WARM_UP = 50


def _total(dump: Path) -> int:
    """The instruction total of one callgrind dump (its `summary:` line)."""
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"{dump} has no summary line")


def _new_dump(workdir: Path, earlier: set[Path], ops_port: int, timeout: float = 120) -> Path:
    """The dump callgrind writes after `callgrind_control -d`. An idle process writes it only when it
    next runs, so it is woken with a /healthz on the ops port (a few instructions, after the dump)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = set(workdir.glob("callgrind.out.*")) - earlier
        if new:
            dump = new.pop()
            time.sleep(0.5)  # let the writer finish the file
            return dump
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{ops_port}/healthz", timeout=30).read()
        time.sleep(0.2)
    raise RuntimeError("callgrind wrote no dump")


def _callgrind(command: str, pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", command, *args, str(pid)], check=True, capture_output=True)


def measure(names: list[str], requests: int) -> dict[str, float]:
    """Instructions per request of each named load."""
    with tempfile.TemporaryDirectory(prefix="sidecar-instructions-") as tmp:
        workdir = Path(tmp)
        upstream, public, ops = free_port(), free_port(), free_port()
        config = sidecar_config(
            workdir,
            upstream=upstream,
            public=public,
            ops=ops,
            store_backend="sqlite",
            redis_url=None,
            prefix="bench:",
        )
        keys = {site: issue_key(config, site) for site in ("bench", "tight")}
        callgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={workdir}/callgrind.out"]
        with (
            process([PYTHON, "-m", "bench.upstream", "--port", str(upstream)], upstream),
            process(
                [*callgrind, PYTHON, "-m", "proxy.cli", "run", "-c", str(config)],
                public,
                start_timeout=300,
                stop_timeout=120,
            ) as sidecar,
        ):
            headers = {
                site: mcp_headers(site, key, open_session(public, site, key)) for site, key in keys.items()
            }
            connection = http.client.HTTPConnection("127.0.0.1", public, timeout=120)
            counts: dict[str, float] = {}
            for name in names:
                path, body, site, status = LOADS[name]
                sent = JSON_HEADERS if site is None else headers[site]
                _send(connection, path, body, sent, status, _WARM_UP)
                _callgrind("-z", sidecar.pid)
                _send(connection, path, body, sent, status, requests)
                earlier = set(workdir.glob("callgrind.out.*"))
                _callgrind("-d", sidecar.pid, f"load-{name}")  # a bare number would be read as a pid
                counts[name] = _total(_new_dump(workdir, earlier, ops)) / requests
            connection.close()
    return counts


def _send(
    connection: http.client.HTTPConnection,
    path: str,
    body: bytes,
    headers: Mapping[str, str],
    status: int,
    count: int,
) -> None:
    for _ in range(count):
        connection.request("POST", path, body=body, headers=dict(headers))
        response = connection.getresponse()
        response.read()
        if response.status != status:
            raise SystemExit(f"POST {path} answered {response.status}, expected {status}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("loads", nargs="*", metavar="LOAD", help=f"{', '.join(LOADS)} (default: all)")
    parser.add_argument("--requests", type=int, default=300, help="requests counted per load")
    args = parser.parse_args()
    unknown = set(args.loads) - set(LOADS)
    if unknown:
        parser.error(f"unknown load(s) {', '.join(sorted(unknown))}; choose from {', '.join(LOADS)}")
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("bench.instructions needs valgrind (apt-get install valgrind)")
    names = args.loads or list(LOADS)
    counts = measure(names, args.requests)
    for name in names:
        print(f"{name:10} {counts[name]:>12,.0f} instructions/request")
    for guarded, plain in COMPARISONS:
        if guarded in counts and plain in counts:
            ratio = counts[plain] / counts[guarded]
            print(f"{plain} / {guarded}: {ratio:.3f}x (the throughput ratio, if time were instructions)")


if __name__ == "__main__":
    main()
