"""Runtime switches: global, per site, per toolset. An operator flips them with the CLI against the store a
running sidecar shares (SQLite file, or Redis for many replicas), which picks them up within
`settings_poll_seconds`; `default` hands control back to the config."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as redis
import yaml

from proxy.config import Config
from proxy.demo import DEMO_MCP_PATH, RunningDemo
from proxy.switches import toolset_switch_key
from tests.admin.processes import run_cli
from tests.demo_upstream import demo_fixture
from tests.e2e.authz_support import ALL_SCOPES, INITIALIZE, JSON_HEADERS, Agent
from tests.e2e.policy_support import eventually, metric, site_data, sites_config
from tests.proxy_harness import RunningSidecar, running_sidecar

pytestmark = pytest.mark.asyncio(loop_scope="module")

demo = demo_fixture()

POLL = 0.1
SITES = {"alpha": "localhost", "beta": "beta.test"}
ON = {"mcp": 200, "discovery": 200, "oauth": 401, "page": 200}
OFF = {"mcp": 404, "discovery": 404, "oauth": 404, "page": 200}  # every guarded surface, not the website


def config_data(demo: RunningDemo, store: dict[str, Any]) -> dict[str, Any]:
    sites = {name: site_data(demo.url, host) for name, host in SITES.items()}
    return sites_config(sites, store=store, settings_poll_seconds=POLL)


@pytest_asyncio.fixture(loop_scope="module")
async def shared(demo: RunningDemo, tmp_path: Path) -> AsyncIterator[tuple[RunningSidecar, Path]]:
    """A running sidecar and the config file the CLI uses: the same SQLite store file."""
    demo.site.reset()
    data = config_data(demo, {"backend": "sqlite", "path": str(tmp_path / "sidecar.db")})
    path = tmp_path / "sidecar.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    async with running_sidecar(Config.model_validate(data), config_path=path) as sc:
        yield sc, path


class Probe:
    """One request to each surface of a site: MCP (with a key of the site), discovery, OAuth, a page."""

    def __init__(self, sc: RunningSidecar) -> None:
        self.sc = sc
        self.keys: dict[str, str] = {}

    async def key(self, site: str) -> str:
        if site not in self.keys:
            keys = self.sc.sidecar.services.identity.keys
            self.keys[site] = (await keys.issue(site, "editor", label="e2e", scopes=ALL_SCOPES)).raw
        return self.keys[site]

    async def surfaces(self, site: str) -> dict[str, int]:
        host = {"Host": SITES[site]}
        http, url = self.sc.http, self.sc.url
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE})
        statuses = {}
        headers = {**JSON_HEADERS, **host, "X-API-Key": await self.key(site)}
        async with http.post(url + DEMO_MCP_PATH, data=body, headers=headers) as response:
            statuses["mcp"] = response.status
        async with http.get(url + "/.well-known/mcp.json", headers=host) as response:
            statuses["discovery"] = response.status
        form = {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"}
        async with http.post(url + "/oauth/token", data=form, headers=host) as response:
            statuses["oauth"] = response.status
        async with http.get(url + "/", headers=host) as response:
            statuses["page"] = response.status
        return statuses

    async def until(self, site: str, expected: dict[str, int]) -> float:
        async def arrived() -> bool:
            return await self.surfaces(site) == expected

        return await eventually(arrived, within=3.0)


async def test_global_off_hides_every_guarded_surface_of_every_site(
    shared: tuple[RunningSidecar, Path],
) -> None:
    sc, config = shared
    probe = Probe(sc)
    for site in SITES:
        assert await probe.surfaces(site) == ON
    result = await run_cli(config, "switch", "global", "off")
    assert result.code == 0, result.stderr
    took = await probe.until("alpha", OFF)
    assert took < 2.0  # a few polls of settings_poll_seconds, on a busy box
    assert await probe.surfaces("beta") == OFF
    text = await sc.metrics_text()
    assert metric(text, "mcp_sidecar_denials_total", site="alpha", code="mcp_disabled") >= 3
    assert await sc.sidecar.services.store.get_settings() == {"switch:mcp_enabled": False}
    assert (await run_cli(config, "switch", "global", "default")).code == 0
    await probe.until("alpha", ON)
    assert await probe.surfaces("beta") == ON


async def test_global_on_at_runtime_beats_config_off(demo: RunningDemo, tmp_path: Path) -> None:
    data = config_data(demo, {"backend": "sqlite", "path": str(tmp_path / "s.db")}) | {"mcp_enabled": False}
    async with running_sidecar(Config.model_validate(data)) as sc:
        probe = Probe(sc)
        assert await probe.surfaces("alpha") == OFF
        await sc.sidecar.services.store.set_setting("switch:mcp_enabled", True)
        await probe.until("alpha", ON)


async def test_one_site_off_leaves_the_others(shared: tuple[RunningSidecar, Path]) -> None:
    sc, config = shared
    store = sc.sidecar.services.store
    probe = Probe(sc)
    assert (await run_cli(config, "switch", "site", "--site", "alpha", "off")).code == 0
    await probe.until("alpha", OFF)
    assert await probe.surfaces("beta") == ON
    await store.set_setting("switch:site:beta:enabled", False)  # what `switch site --site beta off` writes
    await probe.until("beta", OFF)
    await store.set_setting("switch:site:alpha:enabled", None)  # what `switch site ... default` writes
    await probe.until("alpha", ON)
    assert await probe.surfaces("beta") == OFF


async def test_toolsets_narrow_and_all_off_hides_the_site(
    shared: tuple[RunningSidecar, Path], demo: RunningDemo
) -> None:
    sc, config = shared
    store = sc.sidecar.services.store
    probe = Probe(sc)
    credential = {"X-API-Key": await probe.key("alpha"), "Host": SITES["alpha"]}
    agent = Agent(sc.http, sc.url + DEMO_MCP_PATH, credential)
    await agent.initialize()
    content_off = await run_cli(
        config, "switch", "site", "--site", "localhost", "--toolset", "content", "off"
    )
    assert content_off.code == 0, content_off.stderr

    switches = sc.sidecar.services.switches

    async def switch_seen() -> bool:
        # Probing with the call itself would run the ability whenever the probe beats the next poll.
        return switches.values.get(toolset_switch_key("alpha", "content")) is False

    await eventually(switch_seen, within=3.0)
    refused = await agent.execute("demo/create-post", {"title": "t", "content": "c"})
    assert (refused.status, refused.code) == (403, "ability_not_in_toolset")
    assert demo.site.ability_runs == {}
    assert await probe.surfaces("alpha") == ON  # read-only is still on
    await store.set_setting("switch:site:alpha:toolset:read-only", False)
    await probe.until("alpha", OFF)
    text = await sc.metrics_text()
    assert metric(text, "mcp_sidecar_denials_total", site="alpha", code="no_toolsets_enabled") >= 1
    assert await probe.surfaces("beta") == ON
    await store.set_setting("switch:site:alpha:toolset:read-only", None)
    await store.set_setting("switch:site:alpha:toolset:content", None)
    await probe.until("alpha", ON)

    async def allowed() -> bool:
        # A poll may land between the two writes above: wait for the one that sees both cleared.
        reply = await agent.execute("demo/create-post", {"title": "t", "content": "c"})
        return reply.status == 200

    await eventually(allowed, within=3.0)
    assert demo.site.ability_runs["demo/create-post"] == 1


async def test_an_unknown_toolset_or_site_is_a_clear_cli_error(shared: tuple[RunningSidecar, Path]) -> None:
    _, config = shared
    toolset, site = await asyncio.gather(
        run_cli(config, "switch", "site", "--site", "alpha", "--toolset", "nope", "off"),
        run_cli(config, "switch", "site", "--site", "gamma", "off"),
    )
    assert (toolset.code, site.code) == (2, 2)
    assert "unknown toolset 'nope'; toolsets: " in toolset.stderr
    assert "unknown site 'gamma'; configured: alpha (localhost), beta (beta.test)" in site.stderr


async def test_replicas_sharing_redis_follow_one_switch(
    demo: RunningDemo, redis_url: str, redis_prefix: str
) -> None:
    data = config_data(demo, {"backend": "redis", "redis_url": redis_url, "prefix": redis_prefix})
    config = Config.model_validate(data)
    try:
        async with running_sidecar(config) as one, running_sidecar(config) as two:
            probes = Probe(one), Probe(two)
            await one.sidecar.services.store.set_setting("switch:site:beta:enabled", False)
            for probe in probes:
                await probe.until("beta", OFF)
                assert await probe.surfaces("alpha") == ON
            await two.sidecar.services.store.set_setting("switch:site:beta:enabled", None)
            for probe in probes:
                await probe.until("beta", ON)
    finally:
        client = redis.Redis.from_url(redis_url)
        keys = [key async for key in client.scan_iter(match=redis_prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
