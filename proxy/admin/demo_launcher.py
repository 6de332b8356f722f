"""`make demo`: the demo WordPress upstream and the sidecar, a fresh demo key, and how to connect.

Both run as child processes; Ctrl-C (or SIGTERM) stops both cleanly.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from proxy.admin.context import admin_context
from proxy.runtime import load_runtime

__all__ = ["run_demo"]


def _wait_for(host: str, port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with code {proc.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.3):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on {host}:{port} within {timeout:.0f} s")


async def _issue_demo_key(config_path: Path, site: str) -> str:
    async with admin_context(config_path) as ctx:
        issued = await ctx.identity.keys.issue(
            site,
            "admin",
            label="make demo",
            scopes=sorted(ctx.runtime.rules.scopes),
            profile=None,
            ttl_hours=24,
        )
        return issued.raw


_INIT = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "curl", "version": "0"},
        },
    }
)


def _instructions(url: str, key: str) -> str:
    desktop = {
        "mcpServers": {
            "wordpress-demo": {
                "command": "npx",
                "args": ["-y", "mcp-remote", url, "--header", f"X-API-Key:{key}"],
            }
        }
    }
    return f"""
WP MCP Sidecar demo is running.

  MCP endpoint : {url}
  Demo API key : {key}   (acts as WordPress user 'admin', expires in 24 h; shown once)
  Discovery    : {url.split("/wp-json")[0]}/.well-known/mcp.json
  Ops          : http://127.0.0.1:9090/metrics  /healthz  /readyz

Try it:
  curl -s {url} -H 'X-API-Key: {key}' -H 'Content-Type: application/json' \\
       -H 'Accept: application/json, text/event-stream' \\
       -d '{_INIT}'

Claude Desktop (claude_desktop_config.json), through mcp-remote:
{json.dumps(desktop, indent=2)}

Keys for other demo users:
  .venv/bin/mcp-sidecar keys issue -c sample-config.yaml --site localhost --user editor
Press Ctrl-C to stop both.
"""


def run_demo(config_path: Path) -> int:
    runtime = load_runtime(config_path)
    site = runtime.sites[0]
    upstream = urlsplit(site.upstream_url)
    exe = [sys.executable, "-m", "proxy.cli"]
    procs = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                *exe,
                "demo-upstream",
                "--host",
                upstream.hostname or "127.0.0.1",
                "--port",
                str(upstream.port or 80),
            ]
        )
    ]
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    try:
        _wait_for(upstream.hostname or "127.0.0.1", upstream.port or 80, procs[0], "the demo upstream")
        key = asyncio.run(_issue_demo_key(config_path, site.name))
        sidecar = [*exe, "run", "-c", str(config_path)]
        procs.append(subprocess.Popen(sidecar, stdout=subprocess.DEVNULL))  # noqa: S603 - our own module
        listen = runtime.config.listen
        _wait_for(
            "127.0.0.1" if listen.host in ("0.0.0.0", "::") else listen.host,  # noqa: S104
            listen.port,
            procs[1],
            "the sidecar",
        )
        print(_instructions(f"http://localhost:{listen.port}{site.settings.mcp_path}", key), flush=True)
        while not stopping and all(proc.poll() is None for proc in procs):
            time.sleep(0.3)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    print("demo stopped")
    return 0
