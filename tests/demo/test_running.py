"""Serving the demo: in-process on a free port, and the blocking CLI entry point."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import urllib.request

import aiohttp
import pytest

from proxy.demo import DemoSite, start_demo_upstream


async def test_start_on_a_free_port_and_close_quickly() -> None:
    site = DemoSite(title="Mine")
    running = await start_demo_upstream(site=site)
    assert running.site is site
    assert running.url.startswith("http://127.0.0.1:")
    assert running.mcp_url == running.url + "/wp-json/mcp/mcp-adapter-default-server"
    async with aiohttp.ClientSession() as http, http.get(running.url + "/wp-json/") as response:
        assert (await response.json())["name"] == "Mine"
    started = time.monotonic()
    await running.close()
    assert time.monotonic() - started < 2
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(running.url + "/")


async def test_two_demos_side_by_side() -> None:
    first, second = await asyncio.gather(start_demo_upstream(), start_demo_upstream())
    assert first.url != second.url
    await asyncio.gather(first.close(), second.close())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_run_demo_upstream_stops_cleanly_on_signal(signum: signal.Signals) -> None:
    code = "from proxy.demo import run_demo_upstream; run_demo_upstream(port=0)"
    with subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stderr is not None
            url = proc.stderr.readline().split(" on ")[1].split()[0]
            with urllib.request.urlopen(url + "/", timeout=5) as response:  # noqa: S310 (our own http URL)
                assert response.status == 200
            proc.send_signal(signum)
            assert proc.wait(timeout=10) == 0
            assert "Traceback" not in proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
