"""Stage `gate`: switches (config, then runtime overrides from the store), Origin, entitlement; and the
entitlement probe asks the site's own WordPress (its sub-directory, its Host)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from proxy.config import Config
from proxy.stores import create_store
from proxy.stores.settings import StoreSettings
from proxy.switches import GLOBAL_SWITCH, Switches, site_switch_key
from tests.e2e.policy_support import EchoUpstream, echo_upstream, site_data, sites_config
from tests.proxy_harness import RunningSidecar, running_sidecar
from tests.redis_server import OwnedRedis

MCP = "/wp-json/mcp/mcp-adapter-default-server"
INIT = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}})


@pytest.fixture
async def upstream() -> AsyncIterator[EchoUpstream]:
    async with echo_upstream() as running:
        yield running


async def post_mcp(sc: RunningSidecar, path: str = MCP, **headers: str) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers}
    async with sc.http.post(sc.url + path, data=INIT, headers=headers) as response:
        body = await response.read()
        return response.status, json.loads(body) if body else None


async def test_the_entitlement_probe_asks_the_sites_own_wordpress(upstream: EchoUpstream) -> None:
    sites = {
        "blog": site_data(upstream.url, "127.0.0.1", path_prefix="/blog", rest_prefix="/api"),
        "bare": site_data(upstream.url, "bare.test", upstream={"url": upstream.url, "preserve_host": False}),
    }
    async with running_sidecar(Config.model_validate(sites_config(sites))) as sc:
        assert (await post_mcp(sc, "/blog/api/mcp/mcp-adapter-default-server"))[0] == 401  # entitled, no key
        assert (await post_mcp(sc, Host="bare.test"))[0] == 401
    probes = [seen for seen in upstream.seen if "_fields=namespaces" in seen.target]
    assert [(seen.target, seen.headers["host"]) for seen in probes] == [
        ("/blog/api/?_fields=namespaces", "127.0.0.1"),
        ("/wp-json/?_fields=namespaces", upstream.url.removeprefix("http://")),
    ]


async def test_a_foreign_origin_is_refused_on_agent_routes(upstream: EchoUpstream) -> None:
    site = site_data(upstream.url, "127.0.0.1", allowed_origins=["https://app.example/"])
    async with running_sidecar(Config.model_validate(sites_config({"demo": site}))) as sc:
        status, body = await post_mcp(sc, Origin="https://evil.example")
        assert (status, body["error"]["data"]["code"]) == (403, "origin_not_allowed")
        assert (await post_mcp(sc, Origin="HTTPS://APP.example"))[0] == 401  # on to identify
        assert (await post_mcp(sc))[0] == 401  # no Origin: not a browser
    assert [seen.target for seen in upstream.seen if seen.method == "POST"] == []


async def test_runtime_switches_beat_config_and_global_beats_everything(upstream: EchoUpstream) -> None:
    site = site_data(
        upstream.url, "127.0.0.1", enabled=False, entitlement={"source": "static", "entitled": False}
    )
    async with running_sidecar(Config.model_validate(sites_config({"demo": site}))) as sc:
        switches = sc.sidecar.services.switches
        assert await post_mcp(sc) == (404, None)  # off in config
        await sc.sidecar.services.store.set_setting(site_switch_key("demo"), True)
        await switches.refresh()
        status, body = await post_mcp(sc)
        assert (status, body["error"]["data"]["code"]) == (403, "not_entitled")  # on: the next gate
        await sc.sidecar.services.store.set_setting(GLOBAL_SWITCH, False)
        await switches.refresh()
        assert await post_mcp(sc) == (404, None)  # hidden, not even a 403


async def test_a_store_outage_keeps_the_last_switches(owned_redis: OwnedRedis, redis_prefix: str) -> None:
    store = create_store(StoreSettings(backend="redis", redis_url=owned_redis.url, prefix=redis_prefix))
    await store.open()
    try:
        await store.set_setting(GLOBAL_SWITCH, False)
        switches = Switches(store, poll_seconds=60)
        await switches.refresh()
        assert switches.mcp_enabled(True) is False
        owned_redis.stop()
        with capture_logs() as logs:
            await switches.refresh()
        assert switches.mcp_enabled(True) is False  # an outage never flips a switch
        assert [entry["event"] for entry in logs] == ["switches_refresh_failed"]
    finally:
        await store.close()
