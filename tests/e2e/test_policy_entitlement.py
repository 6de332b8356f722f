"""Entitlement end to end: a provisioning API (http source) or a file says which sites hold the MCP
module, and the demo WordPress must still register the plugin's namespace. Not entitled: 403
`not_entitled` on MCP routes, with a log line and a metric saying why."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from structlog.testing import capture_logs

from proxy.config import Config
from proxy.demo import DEMO_MCP_PATH, RunningDemo
from tests.demo_upstream import demo_fixture
from tests.e2e.authz_support import ALL_SCOPES, INITIALIZE, JSON_HEADERS
from tests.e2e.policy_support import eventually, metric, site_data, sites_config
from tests.proxy_harness import RunningSidecar, running_sidecar

pytestmark = pytest.mark.asyncio(loop_scope="module")

demo = demo_fixture()

MODULE = "sytewide_mcp"
TIMES = {"ttl_seconds": 0.2, "grace_seconds": 0.8, "retry_seconds": 0.05, "timeout_seconds": 1}
TOKEN = "prov-token-0123456789"


@dataclass
class Provisioning:
    """A provisioning API: `GET /sites/{site}/modules` answers the site's active modules."""

    modules: dict[str, list[str]] = field(default_factory=lambda: {"alpha": [MODULE, "backups"]})
    failing: bool = False
    asked: int = 0

    def app(self) -> web.Application:
        async def modules(request: web.Request) -> web.Response:
            self.asked += 1
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return web.json_response({"error": "unauthorized"}, status=401)
            if self.failing:
                return web.json_response({"error": "maintenance"}, status=503)
            site = request.match_info["site"]
            if site not in self.modules:
                return web.json_response({"error": "unknown site"}, status=404)
            return web.json_response({"site": site, "modules": self.modules[site]})

        app = web.Application()
        app.router.add_get("/sites/{site}/modules", modules)
        return app


@pytest_asyncio.fixture(loop_scope="module")
async def provisioning() -> AsyncIterator[tuple[Provisioning, TestServer]]:
    api = Provisioning()
    server = TestServer(api.app(), host="127.0.0.1", port=0)
    await server.start_server()
    yield api, server
    await server.close()


def http_source(server: TestServer, **extra: Any) -> dict[str, Any]:
    url = str(server.make_url("/sites/{site}/modules")).replace("%7Bsite%7D", "{site}")
    return {
        "source": "http",
        "url": url,
        "module": MODULE,
        "headers": {"Authorization": f"Bearer {TOKEN}"},
        **TIMES,
        **extra,
    }


@asynccontextmanager
async def sidecar(demo: RunningDemo, entitlement: dict[str, Any]) -> AsyncIterator[RunningSidecar]:
    demo.site.reset()
    site = site_data(demo.url, "localhost", "127.0.0.1", entitlement=entitlement)
    async with running_sidecar(Config.model_validate(sites_config({"alpha": site}))) as sc:
        yield sc


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any

    @property
    def refusal(self) -> tuple[str, str, str]:
        """(code, reason, message) of a JSON-RPC refusal."""
        error = self.body["error"]
        return error["data"]["code"], error["data"]["reason"], error["message"]


async def initialize(sc: RunningSidecar) -> Answer:
    keys = sc.sidecar.services.identity.keys
    key = (await keys.issue("alpha", "editor", label="e2e", scopes=ALL_SCOPES)).raw
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE})
    headers = {**JSON_HEADERS, "X-API-Key": key}
    async with sc.http.post(sc.url + DEMO_MCP_PATH, data=body, headers=headers) as response:
        return Answer(response.status, await response.json())


async def until_refused(sc: RunningSidecar, reason: str, *, within: float = 3.0) -> float:
    async def refused() -> bool:
        answer = await initialize(sc)
        return answer.status == 403 and answer.refusal[:2] == ("not_entitled", reason)

    return await eventually(refused, within=within)


async def until_served(sc: RunningSidecar) -> None:
    async def served() -> bool:
        return (await initialize(sc)).status == 200

    await eventually(served, within=3.0)


async def checks(sc: RunningSidecar, reason: str) -> float:
    return metric(
        await sc.metrics_text(), "mcp_sidecar_entitlement_checks_total", site="alpha", reason=reason
    )


async def test_http_source_up_then_down_holds_for_the_grace_then_closes(
    demo: RunningDemo, provisioning: tuple[Provisioning, TestServer]
) -> None:
    api, server = provisioning
    async with sidecar(demo, http_source(server)) as sc:
        assert (await initialize(sc)).status == 200
        assert await checks(sc, "ok") >= 1
        api.failing = True
        asked = api.asked
        with capture_logs() as logs:
            assert (await initialize(sc)).status == 200  # the last known answer holds
            took = await until_refused(sc, "entitlement_unavailable")
        assert took >= 0.5  # held through (most of) the 0.8 s grace
        assert api.asked > asked  # and the source was asked again meanwhile
        answer = await initialize(sc)
        assert answer.refusal[2] == "this site's MCP entitlement cannot be confirmed right now"
        assert await checks(sc, "entitlement_unavailable") >= 1
        events = {entry["event"] for entry in logs}
        assert {"entitlement_source_unavailable", "site_not_entitled"} <= events
        (refusal, *_) = [entry for entry in logs if entry["event"] == "site_not_entitled"]
        assert refusal["reason"] == "entitlement_unavailable"
        assert "503" in refusal["detail"]
        assert TOKEN not in repr(logs)
        api.failing = False
        await until_served(sc)
    assert demo.site.calls["initialize"] >= 2


async def test_revoking_the_module_closes_the_site(
    demo: RunningDemo, provisioning: tuple[Provisioning, TestServer]
) -> None:
    api, server = provisioning
    async with sidecar(demo, http_source(server)) as sc:
        assert (await initialize(sc)).status == 200
        api.modules["alpha"] = ["backups"]
        await until_refused(sc, "module_missing")
        demo.site.reset_counters()
        assert (await initialize(sc)).refusal[2] == "the MCP module is not active for this site"
        assert await checks(sc, "module_missing") >= 1
        async with sc.http.get(sc.url + "/.well-known/mcp.json") as response:
            assert (response.status, await response.read()) == (404, b"")  # never advertised
        async with sc.http.get(sc.url + "/") as response:
            assert response.status == 200  # the website itself is not the sidecar's to close
        assert demo.site.calls == {}
        del api.modules["alpha"]  # the provisioning API forgot the site: not entitled
        await until_refused(sc, "not_entitled")
        api.modules["alpha"] = [MODULE]
        await until_served(sc)


async def test_a_source_never_reached_is_closed_at_once(demo: RunningDemo) -> None:
    gone = {"source": "http", "url": "http://127.0.0.1:9/sites/{site}", "module": MODULE, **TIMES}
    async with sidecar(demo, gone) as sc:
        answer = await initialize(sc)
        assert (answer.status, answer.refusal[:2]) == (403, ("not_entitled", "entitlement_unavailable"))
    assert demo.site.calls == {}


async def test_file_source(demo: RunningDemo, tmp_path: Path) -> None:
    path = tmp_path / "entitled.json"
    path.write_text(json.dumps({"alpha": [MODULE]}))
    async with sidecar(demo, {"source": "file", "path": str(path), "module": MODULE, **TIMES}) as sc:
        assert (await initialize(sc)).status == 200
        path.write_text(json.dumps({"alpha": ["backups"], "beta": [MODULE]}))
        await until_refused(sc, "module_missing")
        path.write_text(json.dumps({"beta": [MODULE]}))
        await until_refused(sc, "not_entitled")
        path.write_text(json.dumps({"alpha": [MODULE]}))
        await until_served(sc)
        path.unlink()  # the file is gone: held for the grace, then closed
        took = await until_refused(sc, "entitlement_unavailable")
        assert took >= 0.5


async def test_yaml_file_listing_sites(demo: RunningDemo, tmp_path: Path) -> None:
    path = tmp_path / "entitled.yaml"
    path.write_text("- beta\n")
    async with sidecar(demo, {"source": "file", "path": str(path), **TIMES}) as sc:
        assert (await initialize(sc)).refusal[:2] == ("not_entitled", "not_entitled")
        path.write_text("- beta\n- alpha\n")
        await until_served(sc)


async def test_the_plugin_namespace_disappearing_closes_the_site(demo: RunningDemo) -> None:
    async with sidecar(demo, {"source": "static", "require_namespace": "mcp", **TIMES}) as sc:
        assert (await initialize(sc)).status == 200
        demo.site.removed_namespaces.add("mcp")  # the plugin was deactivated
        with capture_logs() as logs:
            await until_refused(sc, "plugin_missing")
        answer = await initialize(sc)
        assert (
            answer.refusal[2] == "the MCP plugin of this site is not installed (or was renamed) in WordPress"
        )
        assert await checks(sc, "plugin_missing") >= 1
        (line, *_) = [entry for entry in logs if entry["event"] == "site_not_entitled"]
        assert line["detail"] == "namespace 'mcp' is not registered upstream"
        demo.site.removed_namespaces.clear()
        await until_served(sc)


async def test_a_renamed_plugin_is_refused(
    demo: RunningDemo, provisioning: tuple[Provisioning, TestServer]
) -> None:
    _, server = provisioning
    async with sidecar(demo, http_source(server, require_namespace="sytewide-mcp/v1")) as sc:
        answer = await initialize(sc)
        assert (answer.status, answer.refusal[:2]) == (403, ("not_entitled", "plugin_missing"))
    assert demo.site.calls == {}
