"""The benchmark suite: each scenario measured against its own comparison in the same run.

    make bench                                   (every scenario, about 2.5 minutes)
    .venv/bin/python -m bench.run proxy limits   (some of them)
    .venv/bin/python -m bench.run --rounds 4     (more interleaved rounds: steadier on a busy machine)
    .venv/bin/python -m bench.run --store redis  (the sidecar on the Redis store, as replicas run)

Scenarios (the issue each one answers):
    proxy     upstream direct, the minimal baseline proxy and the sidecar in passthrough (issue 3)
    identity  an X-API-Key MCP call, and a bogus key refused, against passthrough (issue 4)
    authz     tools/list filtering and tools/call gating latency over passthrough (issue 5)
    limits    the rate limiter (memory, Redis) against no limits; 429s against passthrough (issue 7)

Servers: the fast WordPress-shaped upstream (bench/upstream.py), the baseline (bench/baseline_proxy.py)
and one sidecar process (`python -m proxy.cli run`) with a generated config: SQLite store in a temp
dir, API keys issued with the CLI, JSON logs at info to /dev/null, one site per rate-limit setup
(chosen by Host). Throughput runs use 16 connections; latency runs one connection, so p50 is the
time of one request and not queueing. Each comparison runs its sides interleaved, `--rounds` times,
keeping each side's best round, so a noisy spell does not land on one side only. Compare ratios, not
absolutes, and read the CPU time per request next to them: it is the steadier figure.
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
import time
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
    workdir: Path,
    *,
    upstream: int,
    public: int,
    ops: int,
    store_backend: str,
    redis_url: str | None,
    prefix: str,
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
    store: dict[str, object] = {
        "backend": store_backend,
        "path": str(workdir / "sidecar.db"),
        "prefix": prefix,
    }
    if redis_url is not None:
        store["redis_url"] = redis_url  # the Redis store and rate limiter (every key under `prefix`)
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
    """POST and return the status and the Mcp-Session-Id answered, if any; an error status raises."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, headers=dict(headers), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
            response.read()
            return response.status, response.headers.get("Mcp-Session-Id")
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"POST {path} answered {error.code}: {error.read()[:300]!r}") from None


def mcp_headers(site: str, key: str, session: str | None = None) -> dict[str, str]:
    """An MCP POST's headers as an SDK client sends them: the site's Host, the API key, the protocol
    version and, once initialized, the sealed session id."""
    headers = {
        **JSON_HEADERS,
        "Host": SITE_HOSTS[site],
        "X-API-Key": key,
        "MCP-Protocol-Version": "2025-11-25",
    }
    if session is not None:
        headers["Mcp-Session-Id"] = session
    return headers


_INIT_PARAMS = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "bench", "version": "1"},
}


def open_session(port: int, site: str, key: str) -> str:
    """initialize through the sidecar, as a client does; the sealed session id it answers."""
    status, session = _post(port, MCP_PATH, _jsonrpc("initialize", _INIT_PARAMS), mcp_headers(site, key))
    if status != 200 or not session:
        raise RuntimeError(f"initialize on site {site} answered {status} without a session")
    return session


def upstream_requests(port: int) -> int:
    """The bench upstream's request count, once requests still in flight from earlier runs landed."""

    def read() -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{COUNT_PATH}", timeout=10) as response:
            return int(json.load(response)["requests"])

    count = read()
    while True:
        time.sleep(0.3)
        again = read()
        if again == count:
            return count
        count = again


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


@dataclass(frozen=True)
class Run:
    """One measured run of a comparison: what to send, where, and what answer to expect."""

    name: str
    load: Load
    port: int | None = None  # None: the sidecar
    pid: int | None = None  # whose CPU time is counted; None: the sidecar's
    latency: bool = False  # one connection (p50 = one request's time) instead of many (throughput)
    expect_status: str = "2xx"  # or "error": every answer refused (401, 429)
    count_upstream: bool = False  # prove the upstream never sees these requests


@dataclass
class Bench:
    """The running servers and what the scenarios need to drive them."""

    upstream: int
    baseline: int | None
    required: int | None  # the baseline doing issue 3's required work (bench/baseline_proxy.py)
    sidecar: int
    sidecar_pid: int
    upstream_pid: int
    baseline_pid: int | None
    required_pid: int | None
    seconds: int
    latency_seconds: int
    connections: int
    rounds: int
    keys: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    reached: dict[str, int] = field(default_factory=dict)  # upstream requests seen during a Run

    def mcp(self, site: str, body: bytes = CALL_BODY, *, key: str | None = None) -> Load:
        """An MCP POST to the site with its API key (and its sealed session, once opened)."""
        if key is not None:
            return Load(MCP_PATH, body, mcp_headers(site, key))
        return Load(MCP_PATH, body, mcp_headers(site, self.keys[site], self.sessions.get(site)))

    def open_session(self, site: str) -> None:
        """initialize the site's key: later calls carry its sealed session id."""
        self.sessions[site] = open_session(self.sidecar, site, self.keys[site])

    def measure(self, *runs: Run) -> list[Result]:
        """Warm every run up, then run them all `rounds` times, interleaved so that a noisy spell hits
        every side of a comparison alike; keep each run's best round (highest throughput, or lowest
        p50 for one-connection runs)."""
        for run in runs:
            self._wrk(run, warm_up=True)
        rounds: list[list[Result]] = [[] for _ in runs]
        for _ in range(self.rounds):
            for index, run in enumerate(runs):
                before = upstream_requests(self.upstream) if run.count_upstream else 0
                rounds[index].append(self._wrk(run))
                if run.count_upstream:
                    seen = upstream_requests(self.upstream) - before
                    self.reached[run.name] = self.reached.get(run.name, 0) + seen
        best = [
            min(results, key=lambda r: r.p50_ms) if run.latency else max(results, key=lambda r: r.rps)
            for run, results in zip(runs, rounds, strict=True)
        ]
        self.results.extend(best)
        return best

    def _wrk(self, run: Run, *, warm_up: bool = False) -> Result:
        return wrk(
            "warm-up" if warm_up else run.name,
            self.sidecar if run.port is None else run.port,
            run.load,
            seconds=1 if warm_up else self.latency_seconds if run.latency else self.seconds,
            connections=4 if warm_up else 1 if run.latency else self.connections,
            pid=self.sidecar_pid if run.pid is None else run.pid,
            expect_status=run.expect_status,
        )

    def verdict(self, what: str, figure: str, target: str, ok: bool | None) -> None:
        self.verdicts.append(Verdict(what, figure, target, ok))


PASSTHROUGH = Load(PASSTHROUGH_PATH, CALL_BODY, JSON_HEADERS)


def _ratio(a: Result, b: Result) -> float:
    return a.rps / b.rps


def _cpu(a: Result, b: Result) -> str:
    if a.cpu_us is None or b.cpu_us is None:
        return ""
    return f"; CPU {a.cpu_us:.0f} vs {b.cpu_us:.0f} us/req"


def _refusals_verdict(bench: Bench, what: str, refused: Result, passthrough: Result, reached: int) -> None:
    """Refusals must come at least as fast as forwarding, without ever reaching the upstream."""
    ratio = _ratio(refused, passthrough)
    bench.verdict(
        what,
        f"{ratio:.2f}x{_cpu(refused, passthrough)}; upstream reached {reached} times",
        ">= 1.0x, upstream 0",
        ratio >= 1.0 and reached == 0,
    )


def scenario_proxy(bench: Bench) -> None:
    """Issue 3: throughput against the minimal baseline, latency added over upstream direct."""
    assert bench.baseline is not None
    assert bench.baseline_pid is not None
    direct, baseline, required, passthrough = bench.measure(
        Run("upstream direct", PASSTHROUGH, port=bench.upstream, pid=bench.upstream_pid),
        Run("baseline proxy (minimal aiohttp)", PASSTHROUGH, port=bench.baseline, pid=bench.baseline_pid),
        Run("baseline + issue 3's required work", PASSTHROUGH, port=bench.required, pid=bench.required_pid),
        Run("sidecar passthrough", PASSTHROUGH),
    )
    direct_1, baseline_1, passthrough_1 = bench.measure(
        Run("upstream direct", PASSTHROUGH, port=bench.upstream, pid=bench.upstream_pid, latency=True),
        Run(
            "baseline proxy (minimal aiohttp)",
            PASSTHROUGH,
            port=bench.baseline,
            pid=bench.baseline_pid,
            latency=True,
        ),
        Run("sidecar passthrough", PASSTHROUGH, latency=True),
    )
    ratio = _ratio(passthrough, baseline)
    bench.verdict(
        "3 passthrough throughput / baseline",
        f"{ratio:.2f}x{_cpu(passthrough, baseline)}",
        ">= 0.9x",
        ratio >= 0.9,
    )
    floor = _ratio(required, baseline)
    bench.verdict(
        "3 required work alone / baseline (the floor)",
        f"{floor:.2f}x{_cpu(required, baseline)}",
        "none: a figure",
        None,
    )
    bench.verdict(
        "3 passthrough / baseline + required work",
        f"{_ratio(passthrough, required):.2f}x{_cpu(passthrough, required)}",
        "none: what the pipeline costs",
        None,
    )
    added = passthrough_1.p50_ms - direct_1.p50_ms
    bench.verdict(
        "3 passthrough p50 added over upstream direct (1 conn)",
        f"{added:+.3f} ms (baseline adds {baseline_1.p50_ms - direct_1.p50_ms:+.3f} ms)",
        "<= 1 ms",
        added <= 1.0,
    )
    bench.verdict(
        f"3 p50 at {bench.connections} conns (queueing included)",
        f"passthrough {passthrough.p50_ms:.2f} ms, baseline {baseline.p50_ms:.2f} ms, "
        f"direct {direct.p50_ms:.2f} ms",
        "none: a figure",
        None,
    )


def scenario_identity(bench: Bench) -> None:
    """Issue 4: authenticated MCP requests, and a bogus key refused without reaching WordPress.

    The judged request is a `ping` (authenticated, authorized, forwarded; no tool call, so no call-log
    write), against the same body passed through. A tools/call, which also writes its call-log
    record, is measured too, against its own passthrough.
    """
    bogus_key = "wpmcp_" + secrets.token_urlsafe(32)
    passthrough, api_key, refused, passthrough_call, api_key_call = bench.measure(
        Run("passthrough ping", Load(PASSTHROUGH_PATH, PING_BODY, JSON_HEADERS)),
        Run("X-API-Key ping (limits off)", bench.mcp("bench", PING_BODY)),
        Run(
            "bogus X-API-Key refused (401)",
            bench.mcp("bench", PING_BODY, key=bogus_key),
            expect_status="error",
            count_upstream=True,
        ),
        Run("passthrough tools/call", PASSTHROUGH),
        Run("X-API-Key tools/call + call log (limits off)", bench.mcp("bench")),
    )
    reached = bench.reached[refused.name]
    ratio = _ratio(api_key, passthrough)
    bench.verdict(
        "4 authenticated ping / passthrough throughput",
        f"{ratio:.2f}x{_cpu(api_key, passthrough)}",
        ">= 0.8x",
        ratio >= 0.8,
    )
    _refusals_verdict(bench, "4 bogus-key refusals / passthrough throughput", refused, passthrough, reached)
    bench.verdict(
        "4 authenticated tools/call / passthrough throughput",
        f"{_ratio(api_key_call, passthrough_call):.2f}x{_cpu(api_key_call, passthrough_call)}",
        "none: a figure",
        None,
    )


def scenario_authz(bench: Bench) -> None:
    """Issue 5: what a filtered tools/list and a gated tools/call cost over passthrough (cache warm).

    Two readings of "cost per request": the p50 added at one connection (latency, noisy on a shared
    machine: same-code runs differ by 0.1 ms), and the time per request added under load, from the
    throughput of both sides in the same run (1/rps guarded - 1/rps passthrough: what each request
    costs the saturated sidecar).
    """
    list_load = Load(PASSTHROUGH_PATH, LIST_BODY, JSON_HEADERS)
    list_plain, list_mcp, call_plain, call_mcp, ping_mcp = bench.measure(
        Run("passthrough tools/list", list_load, latency=True),
        Run("MCP tools/list, filtered", bench.mcp("bench", LIST_BODY), latency=True),
        Run("passthrough tools/call", PASSTHROUGH, latency=True),
        Run("MCP tools/call, gated", bench.mcp("bench"), latency=True),
        Run("MCP ping (authenticated, nothing to judge)", bench.mcp("bench", PING_BODY), latency=True),
    )
    loaded = bench.measure(
        Run("passthrough tools/list", list_load),
        Run("MCP tools/list, filtered", bench.mcp("bench", LIST_BODY)),
        Run("passthrough tools/call", PASSTHROUGH),
        Run("MCP tools/call, gated", bench.mcp("bench")),
    )
    for what, plain_run, guarded_run, (plain_load, guarded_load) in (
        ("tools/list filtering", list_plain, list_mcp, loaded[0:2]),
        ("tools/call gating", call_plain, call_mcp, loaded[2:4]),
    ):
        added = guarded_run.p50_ms - plain_run.p50_ms
        over_ping = guarded_run.p50_ms - ping_mcp.p50_ms
        bench.verdict(
            f"5 {what}: p50 over passthrough (1 conn)",
            f"{added:+.3f} ms (over an authenticated MCP ping: {over_ping:+.3f} ms)",
            "<= 0.3 ms",
            added <= 0.3,
        )
        per_request = 1000 / guarded_load.rps - 1000 / plain_load.rps
        bench.verdict(
            f"5 {what}: time per request over passthrough ({bench.connections} conns)",
            f"{per_request:+.3f} ms ({_ratio(guarded_load, plain_load):.2f}x throughput"
            f"{_cpu(guarded_load, plain_load)})",
            "<= 0.3 ms",
            per_request <= 0.3,
        )


def scenario_limits(bench: Bench) -> None:
    """Issue 7: what the limiter costs per request (memory, Redis), and 429s against passthrough.

    The limiter runs on an authenticated `ping` (no call-log write to blur the difference) on three
    sites that differ only in their rate limits: off, in memory, in Redis (never reached, so every
    request is checked and let through). A site allowing one call an hour answers everything else 429.
    """
    sites = ["bench", "memory"] + (["redis"] if "redis" in bench.keys else [])
    *limited, rejected, passthrough = bench.measure(
        *(
            Run(f"X-API-Key ping, limiter {'off' if site == 'bench' else site}", bench.mcp(site, PING_BODY))
            for site in sites
        ),
        Run("over the limit: 429", bench.mcp("tight"), expect_status="error", count_upstream=True),
        Run("sidecar passthrough", PASSTHROUGH),
    )
    reached = bench.reached[rejected.name]
    off = limited[0]
    for site, on in zip(sites[1:], limited[1:], strict=True):
        cpu = (
            f"{on.cpu_us - off.cpu_us:+.0f} us CPU/req; "
            if on.cpu_us is not None and off.cpu_us is not None
            else ""
        )
        bench.verdict(
            f"7 {site} limiter cost per request",
            f"{cpu}throughput {_ratio(on, off):.2f}x of limiter off",
            "none: a figure",
            None,
        )
    if "redis" not in bench.keys:
        bench.verdict("7 redis limiter", "skipped: Redis not reachable", "a running Redis", None)
    _refusals_verdict(bench, "7 rejected (429) / passthrough throughput", rejected, passthrough, reached)


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
    required_port = free_port() if "proxy" in chosen else None
    needs_redis = args.store == "redis" or "limits" in chosen
    redis_url = args.redis_url if needs_redis and redis_reachable(args.redis_url) else None
    if args.store == "redis" and redis_url is None:
        raise SystemExit(f"--store redis: nothing answers at {args.redis_url}")
    prefix = f"mcp-sidecar-bench-{secrets.token_hex(4)}:"
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sidecar-bench-")))
        config = sidecar_config(
            workdir,
            upstream=upstream,
            public=public,
            ops=ops,
            store_backend=args.store,
            redis_url=redis_url,
            prefix=prefix,
        )
        if redis_url is not None:  # runs last, once every process has stopped
            stack.callback(drop_redis_keys, redis_url, prefix)
        keys = {site: issue_key(config, site) for site in SITE_HOSTS if site != "redis" or redis_url}
        up = stack.enter_context(process([PYTHON, "-m", "bench.upstream", "--port", str(upstream)], upstream))
        upstream_url = f"http://127.0.0.1:{upstream}"

        def baseline_process(port: int | None, *flags: str) -> subprocess.Popen[bytes] | None:
            if port is None:
                return None
            command = [PYTHON, "-m", "bench.baseline_proxy", "--port", str(port), "--upstream", upstream_url]
            return stack.enter_context(process([*command, *flags], port))

        base = baseline_process(baseline)
        required = baseline_process(required_port, "--required-work")
        sidecar = stack.enter_context(process([PYTHON, "-m", "proxy.cli", "run", "-c", str(config)], public))
        bench = Bench(
            upstream=upstream,
            baseline=baseline,
            required=required_port,
            sidecar=public,
            sidecar_pid=sidecar.pid,
            upstream_pid=up.pid,
            baseline_pid=base.pid if base is not None else None,
            required_pid=required.pid if required is not None else None,
            seconds=args.seconds,
            latency_seconds=args.latency_seconds,
            connections=args.connections,
            rounds=args.rounds,
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
    parser.add_argument("--seconds", type=int, default=3, help="length of each throughput run")
    parser.add_argument("--latency-seconds", type=int, default=2, help="length of each 1-connection run")
    parser.add_argument(
        "--rounds", type=int, default=2, help="interleaved repetitions of each comparison; the best counts"
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--store",
        choices=("sqlite", "redis"),
        default="sqlite",
        help="the sidecar's store: sqlite (the embedded default) or redis (as replicas share it)",
    )
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/0", help="for the Redis limiter and --store redis"
    )
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
