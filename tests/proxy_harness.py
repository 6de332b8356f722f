"""A running sidecar on real sockets for tests: public and ops listeners on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from proxy.app import Sidecar, build_sidecar
from proxy.config import Config


@dataclass
class RunningSidecar:
    sidecar: Sidecar
    public: TestServer
    ops: TestServer
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return str(self.public.make_url("")).rstrip("/")

    @property
    def ops_url(self) -> str:
        return str(self.ops.make_url("")).rstrip("/")

    async def metrics_text(self) -> str:
        async with self.http.get(self.ops_url + "/metrics") as response:
            return await response.text()


@asynccontextmanager
async def running_sidecar(
    config: Config, *, config_path: Path | None = None, port: int | None = None
) -> AsyncIterator[RunningSidecar]:
    """A sidecar on real sockets; `port` (from `free_port()`) when its public URL must be known first."""
    sidecar = build_sidecar(config, config_path=config_path)
    public = TestServer(sidecar.public, host="127.0.0.1", port=port or 0)
    ops = TestServer(sidecar.ops, host="127.0.0.1", port=0)
    await public.start_server()
    await ops.start_server()
    http = aiohttp.ClientSession(auto_decompress=False)
    try:
        yield RunningSidecar(sidecar, public, ops, http)
    finally:
        await http.close()
        await ops.close()
        await public.close()
