"""Serving the demo with uvicorn: in-process for tests, blocking for the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn

from proxy.demo.app import DEMO_MCP_PATH, build_demo_app
from proxy.demo.site import DemoSite

__all__ = ["RunningDemo", "run_demo_upstream", "start_demo_upstream"]

_CLOSE_TIMEOUT_SECONDS = 5.0


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: whoever embeds it decides how it stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(slots=True)
class RunningDemo:
    """A demo site being served; `url` is its base (`http://127.0.0.1:PORT`)."""

    url: str
    site: DemoSite
    _server: _Server
    _task: asyncio.Task[None]

    @property
    def mcp_url(self) -> str:
        return self.url + DEMO_MCP_PATH

    async def close(self) -> None:
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), _CLOSE_TIMEOUT_SECONDS)
        except TimeoutError:
            self._server.force_exit = True
            await self._task


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


async def start_demo_upstream(
    *, site: DemoSite | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningDemo:
    """Serve a demo site on the running event loop; port 0 picks a free port."""
    site = site or DemoSite()
    sock = _bind(host, port)
    config = uvicorn.Config(
        build_demo_app(site),
        log_config=None,  # leave the embedding process's logging alone
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            sock.close()
            await task
            raise RuntimeError("the demo upstream did not start")
        await asyncio.sleep(0.005)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return RunningDemo(url=f"http://{shown}:{bound_port}", site=site, _server=server, _task=task)


async def _serve_until_stopped(host: str, port: int) -> None:
    # Served over plain http for development: a `local` WordPress (approvals may redirect to http://localhost).
    running = await start_demo_upstream(site=DemoSite(environment_type="local"), host=host, port=port)
    print(f"demo WordPress upstream on {running.url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await running.close()


def run_demo_upstream(*, host: str = "127.0.0.1", port: int = 8081) -> None:
    """Serve the demo until Ctrl-C or SIGTERM, then return normally."""
    asyncio.run(_serve_until_stopped(host, port))
