"""The benchmark suite: each scenario measured against its own comparison in the same run.

    make bench                                   (every scenario, about 2 minutes)
    .venv/bin/python -m bench.run proxy limits   (some of them)
    .venv/bin/python -m bench.run --seconds 10   (longer runs, steadier figures)

Scenarios (the issue each one answers):
    proxy     upstream direct, the minimal baseline proxy and the sidecar in passthrough (issue 3)
    identity  an X-API-Key MCP call, and a bogus key refused, against passthrough (issue 4)
    authz     tools/list filtering and tools/call gating latency over passthrough (issue 5)
    limits    the rate limiter (memory, Redis) against no limits; 429s against passthrough (issue 7)

Servers: the fast WordPress-shaped upstream (bench/upstream.py), the baseline (bench/baseline_proxy.py)
and one sidecar process (`python -m proxy.cli run`) with a generated config: SQLite store in a temp
dir, API keys issued with the CLI, JSON logs at info to /dev/null, one site per rate-limit setup
(chosen by Host). Throughput runs use 16 connections; latency runs one connection, so p50 is the
time of one request and not queueing. The machine is shared and noisy: compare ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import socket
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from bench.harness import PYTHON, ROOT, Load, Result, free_port, process, table, wrk
from bench.upstream import COUNT_PATH

SCENARIOS = ("proxy", "identity", "authz", "limits")
MCP_PATH = "/wp-json/mcp/mcp-adapter-default-server"
PASSTHROUGH_PATH = "/bench"  # outside every guarded namespace: forwarded untouched
APP_PASSWORD = "Bnch 4kW8 Np2x Qm7v Hs5j Cd9f"  # noqa: S105 - the bench upstream accepts anything

# Sites of the bench sidecar, by Host: their rate limits are what differs.
SITE_HOSTS = {"bench": "127.0.0.1", "memory": "memory.bench", "redis": "redis.bench", "tight": "tight.bench"}
_NEVER_REACHED = {"requests": 1_000_000, "per_seconds": 1}  # the limiter runs, but never refuses
_ONE_PER_HOUR = {"requests": 1, "per_seconds": 3600}  # everything after the first call is a 429


def _jsonrpc(method: str, params: Mapping[str, object] | None = None) -> bytes:
    message: dict[str, object] = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


def _call_body(size: int = 1024) -> bytes:
    """A tools/call of execute-ability (demo/get-post, allowed for the bench key) padded to `size`."""
    empty = _jsonrpc(
        "tools/call",
        {
            "name": "mcp-adapter-execute-ability",
            "arguments": {"ability_name": "demo/get-post", "parameters": {}},
        },
    )
    pad = size - len(empty) - len(b'"id":1,"note":""')
    return _jsonrpc(
        "tools/call",
        {
            "name": "mcp-adapter-execute-ability",
            "arguments": {"ability_name": "demo/get-post", "parameters": {"id": 1, "note": "x" * pad}},
        },
    )


CALL_BODY = _call_body()  # the 1 KB JSON-RPC POST of every throughput comparison
LIST_BODY = _jsonrpc("tools/list")
PING_BODY = _jsonrpc("ping")
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def sidecar_config(
    workdir: Path, *, upstream: int, public: int, ops: int, redis_url: str | None, prefix: str
) -> Path:
    users = {"admin": {"app_password": APP_PASSWORD}}

    def site(host: str, rate_limits: dict[str, object]) -> dict[str, object]:
        hosts = [host, "localhost"] if host == "127.0.0.1" else [host]
        return {
            "hosts": hosts,
            "upstream": {"url": f"http://127.0.0.1:{upstream}"},
            "users": users,
            "rate_limits": rate_limits,
        }

    sites = {
        "bench": site(SITE_HOSTS["bench"], {"enabled": False}),
        "memory": site(SITE_HOSTS["memory"], {"backend": "memory", "authenticated": _NEVER_REACHED}),
        "tight": site(SITE_HOSTS["tight"], {"backend": "memory", "authenticated": _ONE_PER_HOUR}),
    }
    if redis_url is not None:
        sites["redis"] = site(SITE_HOSTS["redis"], {"backend": "redis", "authenticated": _NEVER_REACHED})
    store: dict[str, object] = {"backend": "sqlite", "path": str(workdir / "sidecar.db"), "prefix": prefix}
    if redis_url is not None:
        store["redis_url"] = redis_url  # the Redis rate limiter's server (keys under `prefix`)
    config = {
        "listen": {"host": "127.0.0.1", "port": public},
        "ops": {"host": "127.0.0.1", "port": ops},
        "logging": {"level": "info", "format": "json"},
        "secrets": {
            "key_pepper": secrets.token_hex(16),
            "session_keys": [base64.b64encode(os.urandom(32)).decode()],
        },
        "store": store,
        "rules": {"tools": str(ROOT / "rules/tools.yaml"), "toolsets": str(ROOT / "rules/toolsets.yaml")},
        "sites": sites,
    }
    path = workdir / "bench-config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


_CLI = (PYTHON, "-m", "proxy.cli")


def issue_key(config: Path, site: str) -> str:
    """An API key for the site's admin user, issued with the CLI against the sidecar's SQLite store."""
    out = subprocess.run(
        [*_CLI, "keys", "issue", "--site", site, "--user", "admin", "--format", "json", "-c", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return str(json.loads(out)["key"])


def _post(port: int, path: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, str | None]:
    """POST and return the status and the Mcp-Session-Id answered, if any."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, headers=dict(headers), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
            response.read()
            return response.status, response.headers.get("Mcp-Session-Id")
    except urllib.error.HTTPError as error:
        return error.code, None


def upstream_requests(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{COUNT_PATH}", timeout=10) as response:
        return int(json.load(response)["requests"])


def redis_reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def drop_redis_keys(url: str, prefix: str) -> None:
    """Delete what the Redis limiter wrote under this run's own prefix (never anything else)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@dataclass(frozen=True)
class Verdict:
    what: str
    figure: str
    target: str
    ok: bool | None  # None: a figure without a target, or a skipped measurement


@dataclass
class Bench:
    """The running servers and what the scenarios need to drive them."""

    upstream: int
    baseline: int | None
    sidecar: int
    sidecar_pid: int
    upstream_pid: int
    baseline_pid: int | None
    seconds: float
    latency_seconds: float
    connections: int
    keys: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)

    def mcp(self, site: str, body: bytes = CALL_BODY, *, key: str | None = None) -> Load:
        """An MCP POST to the site with its API key (and its sealed session, once opened)."""
        headers = {
            **JSON_HEADERS,
            "Host": SITE_HOSTS[site],
            "X-API-Key": key if key is not None else self.keys[site],
            "MCP-Protocol-Version": "2025-11-25",
        }
        if key is None and site in self.sessions:
            headers["Mcp-Session-Id"] = self.sessions[site]
        return Load(MCP_PATH, body, headers)

    def open_session(self, site: str) -> None:
        """initialize through the sidecar, as a client does: later calls carry the sealed session id."""
        status, session = _post(
            self.sidecar, MCP_PATH, _jsonrpc("initialize", _INIT_PARAMS), self.mcp(site).headers
        )
        if status != 200 or not session:
            raise RuntimeError(f"initialize on site {site} answered {status} without a session")
        self.sessions[site] = session

    def run(
        self,
        name: str,
        load: Load,
        *,
        port: int | None = None,
        pid: int | None = None,
        latency: bool = False,
        expect_status: str = "2xx",
    ) -> Result:
        result = wrk(
            name,
            self.sidecar if port is None else port,
            load,
            seconds=self.latency_seconds if latency else self.seconds,
            connections=1 if latency else self.connections,
            pid=self.sidecar_pid if pid is None else pid,
            expect_status=expect_status,
        )
        self.results.append(result)
        return result

    def warm(self, load: Load, *, port: int | None = None, expect_status: str = "2xx") -> None:
        """A short unrecorded run: pools, caches (capabilities) and code paths warm before measuring."""
        wrk(
            "warm-up",
            self.sidecar if port is None else port,
            load,
            seconds=1,
            connections=4,
            expect_status=expect_status,
        )

    def verdict(self, what: str, figure: str, target: str, ok: bool | None) -> None:
        self.verdicts.append(Verdict(what, figure, target, ok))


_INIT_PARAMS = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "bench", "version": "1"},
}
PASSTHROUGH = Load(PASSTHROUGH_PATH, CALL_BODY, JSON_HEADERS)


def _ratio(a: Result, b: Result) -> float:
    return a.rps / b.rps


def _cpu(a: Result, b: Result) -> str:
    if a.cpu_us is None or b.cpu_us is None:
        return ""
    return f"; CPU {a.cpu_us:.0f} vs {b.cpu_us:.0f} us/req"


def scenario_proxy(bench: Bench) -> None:
    """Issue 3: throughput against the minimal baseline, latency added over upstream direct."""
    assert bench.baseline is not None
    assert bench.baseline_pid is not None
    bench.warm(PASSTHROUGH)
    bench.warm(PASSTHROUGH, port=bench.baseline)
    direct = bench.run("upstream direct", PASSTHROUGH, port=bench.upstream, pid=bench.upstream_pid)
    baseline = bench.run(
        "baseline proxy (minimal aiohttp)", PASSTHROUGH, port=bench.baseline, pid=bench.baseline_pid
    )
    passthrough = bench.run("sidecar passthrough", PASSTHROUGH)
    direct_1 = bench.run(
        "upstream direct", PASSTHROUGH, port=bench.upstream, pid=bench.upstream_pid, latency=True
    )
    baseline_1 = bench.run(
        "baseline proxy (minimal aiohttp)",
        PASSTHROUGH,
        port=bench.baseline,
        pid=bench.baseline_pid,
        latency=True,
    )
    passthrough_1 = bench.run("sidecar passthrough", PASSTHROUGH, latency=True)
    ratio = _ratio(passthrough, baseline)
    bench.verdict(
        "3 passthrough throughput / baseline",
        f"{ratio:.2f}x{_cpu(passthrough, baseline)}",
        ">= 0.9x",
        ratio >= 0.9,
    )
    added = passthrough_1.p50_ms - direct_1.p50_ms
    bench.verdict(
        "3 passthrough p50 added over upstream direct (1 conn)",
        f"{added:+.3f} ms (baseline adds {baseline_1.p50_ms - direct_1.p50_ms:+.3f} ms)",
        "<= 1 ms",
        added <= 1.0,
    )
    added_16 = passthrough.p50_ms - direct.p50_ms
    bench.verdict(
        f"3 passthrough p50 added over upstream direct ({bench.connections} conns)",
        f"{added_16:+.3f} ms (baseline adds {baseline.p50_ms - direct.p50_ms:+.3f} ms)",
        "<= 1 ms",
        added_16 <= 1.0,
    )


def scenario_identity(bench: Bench) -> None:
    """Issue 4: an authenticated MCP call, and a bogus key refused without reaching WordPress."""
    authenticated = bench.mcp("bench")
    bogus = bench.mcp("bench", key="wpmcp_" + secrets.token_urlsafe(32))
    bench.warm(PASSTHROUGH)
    bench.warm(authenticated)
    bench.warm(bogus, expect_status="error")
    passthrough = bench.run("sidecar passthrough", PASSTHROUGH)
    api_key = bench.run("X-API-Key tools/call (limits off)", authenticated)
    before = upstream_requests(bench.upstream)
    refused = bench.run("bogus X-API-Key refused (401)", bogus, expect_status="error")
    reached = upstream_requests(bench.upstream) - before
    ratio = _ratio(api_key, passthrough)
    bench.verdict(
        "4 authenticated / passthrough throughput",
        f"{ratio:.2f}x{_cpu(api_key, passthrough)}",
        ">= 0.8x",
        ratio >= 0.8,
    )
    ratio = _ratio(refused, passthrough)
    bench.verdict(
        "4 bogus-key refusals / passthrough throughput",
        f"{ratio:.2f}x{_cpu(refused, passthrough)}; upstream reached {reached} times",
        ">= 1.0x, upstream 0",
        ratio >= 1.0 and reached == 0,
    )


def scenario_authz(bench: Bench) -> None:
    """Issue 5: latency of a filtered tools/list and a gated tools/call over passthrough (cache warm)."""
    loads = {
        "list": (Load(PASSTHROUGH_PATH, LIST_BODY, JSON_HEADERS), bench.mcp("bench", LIST_BODY)),
        "call": (PASSTHROUGH, bench.mcp("bench")),
    }
    ping = bench.mcp("bench", PING_BODY)
    for plain, guarded in loads.values():
        bench.warm(plain)
        bench.warm(guarded)
    list_plain = bench.run("passthrough tools/list", loads["list"][0], latency=True)
    list_mcp = bench.run("MCP tools/list, filtered", loads["list"][1], latency=True)
    call_plain = bench.run("passthrough tools/call", loads["call"][0], latency=True)
    call_mcp = bench.run("MCP tools/call, gated", loads["call"][1], latency=True)
    ping_mcp = bench.run("MCP ping (authenticated, nothing to judge)", ping, latency=True)
    for what, plain_run, guarded_run in (
        ("tools/list filtering", list_plain, list_mcp),
        ("tools/call gating", call_plain, call_mcp),
    ):
        added = guarded_run.p50_ms - plain_run.p50_ms
        over_ping = guarded_run.p50_ms - ping_mcp.p50_ms
        bench.verdict(
            f"5 {what}: p50 over passthrough (1 conn)",
            f"{added:+.3f} ms (over an authenticated MCP ping: {over_ping:+.3f} ms)",
            "<= 0.3 ms",
            added <= 0.3,
        )


def scenario_limits(bench: Bench) -> None:
    """Issue 7: what the limiter costs per request (memory, Redis), and 429s against passthrough."""
    sites = ["bench", "memory"] + (["redis"] if "redis" in bench.keys else [])
    tight = bench.mcp("tight")
    for site in sites:
        bench.warm(bench.mcp(site))
    bench.warm(tight, expect_status="error")
    bench.warm(PASSTHROUGH)
    results = {
        site: bench.run(
            f"X-API-Key tools/call, limiter {'off' if site == 'bench' else site}", bench.mcp(site)
        )
        for site in sites
    }
    passthrough = bench.run("sidecar passthrough", PASSTHROUGH)
    rejected = bench.run("over the limit: 429", tight, expect_status="error")
    off = results["bench"]
    for site in sites[1:]:
        on = results[site]
        cpu = (
            f"{on.cpu_us - off.cpu_us:+.0f} us CPU/req, "
            if on.cpu_us is not None and off.cpu_us is not None
            else ""
        )
        bench.verdict(
            f"7 {site} limiter cost per request",
            f"{cpu}{(1 / on.rps - 1 / off.rps) * 1e6:+.0f} us/req of wall time at full load; "
            f"throughput {_ratio(on, off):.2f}x",
            "none: a figure",
            None,
        )
    ratio = _ratio(rejected, passthrough)
    bench.verdict(
        "7 rejected (429) / passthrough throughput",
        f"{ratio:.2f}x{_cpu(rejected, passthrough)}",
        ">= 1.0x",
        ratio >= 1.0,
    )
    if "redis" not in bench.keys:
        bench.verdict("7 redis limiter", "skipped: Redis not reachable", "a running Redis", None)


RUNNERS: dict[str, Callable[[Bench], None]] = {
    "proxy": scenario_proxy,
    "identity": scenario_identity,
    "authz": scenario_authz,
    "limits": scenario_limits,
}


@contextlib.contextmanager
def servers(args: argparse.Namespace, chosen: list[str]) -> Iterator[Bench]:
    upstream, public, ops = free_port(), free_port(), free_port()
    baseline = free_port() if "proxy" in chosen else None
    redis_url = args.redis_url if "limits" in chosen and redis_reachable(args.redis_url) else None
    prefix = f"mcp-sidecar-bench-{secrets.token_hex(4)}:"
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sidecar-bench-")))
        config = sidecar_config(
            workdir, upstream=upstream, public=public, ops=ops, redis_url=redis_url, prefix=prefix
        )
        keys = {site: issue_key(config, site) for site in SITE_HOSTS if site != "redis" or redis_url}
        up = stack.enter_context(process([PYTHON, "-m", "bench.upstream", "--port", str(upstream)], upstream))
        base = None
        upstream_url = f"http://127.0.0.1:{upstream}"
        if baseline is not None:
            base = stack.enter_context(
                process(
                    [
                        PYTHON,
                        "-m",
                        "bench.baseline_proxy",
                        "--port",
                        str(baseline),
                        "--upstream",
                        upstream_url,
                    ],
                    baseline,
                )
            )
        sidecar = stack.enter_context(process([PYTHON, "-m", "proxy.cli", "run", "-c", str(config)], public))
        if redis_url is not None:
            stack.callback(drop_redis_keys, redis_url, prefix)
        bench = Bench(
            upstream=upstream,
            baseline=baseline,
            sidecar=public,
            sidecar_pid=sidecar.pid,
            upstream_pid=up.pid,
            baseline_pid=base.pid if base is not None else None,
            seconds=args.seconds,
            latency_seconds=args.latency_seconds,
            connections=args.connections,
            keys=keys,
        )
        for site in keys:
            bench.open_session(site)
        yield bench


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help=f"{', '.join(SCENARIOS)} (default: all)"
    )
    parser.add_argument("--seconds", type=float, default=5, help="length of each throughput run")
    parser.add_argument("--latency-seconds", type=float, default=3, help="length of each 1-connection run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="for the Redis limiter")
    args = parser.parse_args()
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")
    chosen = [name for name in SCENARIOS if name in (args.scenarios or SCENARIOS)]
    with servers(args, chosen) as bench:
        for name in chosen:
            RUNNERS[name](bench)
    print(table(bench.results))
    print()
    width = max(len(v.what) for v in bench.verdicts)
    for v in bench.verdicts:
        mark = {True: "ok  ", False: "MISS", None: "    "}[v.ok]
        print(f"{mark} {v.what:<{width}}  {v.figure}  (target {v.target})")


if __name__ == "__main__":
    main()
