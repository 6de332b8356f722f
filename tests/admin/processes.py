"""The CLI and the sidecar as real child processes: configs written to disk, ports picked by the OS.

Child output goes to files (never an unread pipe, which would stall a chatty sidecar) so tests can
search it afterwards for secrets.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from proxy.demo import DEMO_APP_PASSWORDS
from tests.factories import make_config_data
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
DEMO_USERS = {login: {"app_password": password} for login, password in DEMO_APP_PASSWORDS.items()}
_START_TIMEOUT = 30.0


def config_data(upstream_url: str, *, top: dict[str, Any] | None = None, **site: Any) -> dict[str, Any]:
    """A config for the demo upstream with its users, on ports the OS just handed out."""
    data = make_config_data(upstream_url, users=DEMO_USERS, **site)
    data["listen"] = {"host": "127.0.0.1", "port": free_port()}
    data["ops"] = {"host": "127.0.0.1", "port": free_port()}
    data.update(top or {})
    return data


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


async def run_cli(config: Path, *args: str) -> CliResult:
    """`mcp-sidecar ARGS -c CONFIG` in a child process."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "proxy.cli",
        *args,
        "-c",
        str(config),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), _START_TIMEOUT)
    assert proc.returncode is not None
    return CliResult(proc.returncode, stdout.decode(), stderr.decode())


@dataclass
class SidecarProcess:
    """`mcp-sidecar run` in a child process; `output()` is everything it printed so far."""

    url: str
    ops_url: str
    proc: asyncio.subprocess.Process
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


async def _wait_ready(ops_url: str, proc: asyncio.subprocess.Process, log_path: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"the sidecar exited: {log_path.read_text(errors='replace')}")
            try:
                async with http.get(ops_url + "/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"the sidecar did not start: {log_path.read_text(errors='replace')}")


@asynccontextmanager
async def sidecar_process(config: Path, *, name: str = "sidecar") -> AsyncIterator[SidecarProcess]:
    """Run the sidecar on `config` until the block ends (SIGINT, as an operator's Ctrl-C)."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    log_path = config.parent / f"{name}.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "proxy.cli", "run", "-c", str(config), cwd=ROOT, stdout=log, stderr=log
        )
    running = SidecarProcess(
        url=f"http://127.0.0.1:{data['listen']['port']}",
        ops_url=f"http://127.0.0.1:{data['ops']['port']}",
        proc=proc,
        log_path=log_path,
    )
    try:
        await _wait_ready(running.ops_url, proc, log_path)
        yield running
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
