"""Hot reload of config and rules: swapped atomically, in-flight requests finish under the old policy,
an invalid new config is rejected (the old one stays, logged and counted), and no request fails while
reloads happen under traffic. In process (Sidecar.reload, POST /admin/reload) and in a child process
(SIGHUP, `mcp-sidecar reload`)."""

from __future__ import annotations

import asyncio
import shutil
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml
from structlog.testing import capture_logs

from proxy.config import load_config
from proxy.demo import DEMO_MCP_PATH, RunningDemo
from tests.admin.processes import config_data, run_cli, sidecar_process, write_config
from tests.demo_upstream import demo_fixture
from tests.e2e.authz_support import ALL_SCOPES, Agent
from tests.e2e.policy_support import echo_upstream, eventually, metric, site_data, sites_config
from tests.factories import RULES_DIR
from tests.proxy_harness import RunningSidecar, running_sidecar

pytestmark = pytest.mark.asyncio(loop_scope="module")

demo = demo_fixture()

RELOADS = "mcp_sidecar_config_reload_total"


@dataclass
class Files:
    """A config file and its own copy of the rules, as an operator edits them."""

    config: Path
    rules: Path
    data: dict[str, Any]

    def write(self, change: Callable[[dict[str, Any]], None] = lambda data: None) -> None:
        change(self.data)
        self.config.write_text(yaml.safe_dump(self.data), encoding="utf-8")

    def edit_rules(self, name: str, change: Callable[[dict[str, Any]], None]) -> None:
        path = self.rules / f"{name}.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(data)
        path.write_text(yaml.safe_dump(data), encoding="utf-8")


def make_files(tmp_path: Path, data: dict[str, Any]) -> Files:
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in ("tools.yaml", "toolsets.yaml"):
        shutil.copy(RULES_DIR / name, rules / name)
    data["rules"] = {"tools": "rules/tools.yaml", "toolsets": "rules/toolsets.yaml"}
    files = Files(tmp_path / "sidecar.yaml", rules, data)
    files.write()
    return files


@asynccontextmanager
async def reloadable(files: Files) -> AsyncIterator[RunningSidecar]:
    async with running_sidecar(load_config(files.config), config_path=files.config) as sc:
        yield sc


@pytest_asyncio.fixture(loop_scope="module")
async def files(demo: RunningDemo, tmp_path: Path) -> Files:
    demo.site.reset()
    return make_files(tmp_path, sites_config({"demo": site_data(demo.url, "localhost", "127.0.0.1")}))


async def agent(sc: RunningSidecar, user: str = "editor") -> Agent:
    issued = await sc.sidecar.services.identity.keys.issue("demo", user, label="e2e", scopes=ALL_SCOPES)
    session = Agent(sc.http, sc.url + DEMO_MCP_PATH, {"X-API-Key": issued.raw})
    await session.initialize()
    return session


async def ops_reload(sc: RunningSidecar) -> tuple[int, Any]:
    async with sc.http.post(sc.ops_url + "/admin/reload") as response:
        return response.status, await response.json()


async def reloads(sc: RunningSidecar, result: str) -> float:
    return metric(await sc.metrics_text(), RELOADS, result=result)


async def test_a_valid_config_and_rules_are_swapped_in_together(files: Files, demo: RunningDemo) -> None:
    async with reloadable(files) as sc:
        editor = await agent(sc)
        assert (await editor.execute("demo/create-post", {"title": "t", "content": "c"})).status == 200
        files.edit_rules("toolsets", lambda rules: rules.update(default_enabled=["read-only"]))
        files.write(lambda data: data["sites"]["demo"].update(allowed_origins=["https://app.example"]))
        assert await ops_reload(sc) == (200, {"status": "reloaded", "restart_required": []})
        assert await reloads(sc, "ok") == 1
        refused = await editor.execute("demo/create-post", {"title": "t", "content": "c"})
        assert (refused.status, refused.code) == (403, "ability_not_in_toolset")  # the new rules
        origin = await editor.post(editor.request("ping"), headers={"Origin": "https://app.example"})
        assert origin.status == 200  # and the new config, in the same swap
    assert demo.site.ability_runs["demo/create-post"] == 1


async def test_a_reload_judges_routes_afresh(files: Files, demo: RunningDemo) -> None:
    """Route verdicts are cached per site runtime: a route the old allowlist opened is closed at once by
    a reload that no longer allows it, however often it was used before."""
    async with reloadable(files) as sc:
        editor = await agent(sc)
        for _ in range(3):
            assert (await editor.post(editor.request("ping"))).status == 200
        files.write(
            lambda data: data["sites"]["demo"].update(allowlist={"allow": [{"path": "/mcp/another-server"}]})
        )
        assert (await ops_reload(sc))[0] == 200
        refused = await editor.post(editor.request("ping"))
        assert (refused.status, refused.body) == (404, None)


def broken_yaml(files: Files) -> None:
    files.config.write_text("sites: [\n", encoding="utf-8")


def unknown_key(files: Files) -> None:
    files.write(lambda data: data["sites"]["demo"].update(enabeld=False))


def unknown_toolset(files: Files) -> None:
    files.write(lambda data: data["sites"]["demo"].update(toolsets=["nope"]))


def broken_rules(files: Files) -> None:
    files.edit_rules("toolsets", lambda rules: rules.update(default_enabled=["missing"]))


@pytest.mark.parametrize(
    ("breaking", "problem"),
    [
        (broken_yaml, "valid YAML"),
        (unknown_key, "sites.demo.enabeld: unknown key"),
        (unknown_toolset, "sites.demo.toolsets.0: a toolset of the rules files"),
        (broken_rules, "toolsets.yaml"),
    ],
)
async def test_an_invalid_config_is_rejected_and_the_old_one_stays(
    files: Files, demo: RunningDemo, breaking: Callable[[Files], None], problem: str
) -> None:
    async with reloadable(files) as sc:
        editor = await agent(sc)
        before = sc.sidecar.services.holder.current
        breaking(files)
        with capture_logs() as logs:
            status, body = await ops_reload(sc)
        assert status == 409
        assert body["status"] == "rejected"
        assert any(problem in line for line in body["problems"]), body["problems"]
        assert sc.sidecar.services.holder.current is before
        assert (await reloads(sc, "error"), await reloads(sc, "ok")) == (1, 0)
        (logged,) = [entry for entry in logs if entry["event"] == "config_reload_rejected"]
        assert logged["log_level"] == "error"
        assert logged["problems"] == body["problems"]
        assert (await editor.execute("demo/create-post", {"title": "t", "content": "c"})).status == 200


async def test_settings_only_a_restart_applies_are_named(files: Files) -> None:
    async with reloadable(files) as sc:
        files.write(
            lambda data: data.update(settings_poll_seconds=9, listen={"host": "127.0.0.1", "port": 1})
        )
        assert await ops_reload(sc) == (
            200,
            {"status": "reloaded", "restart_required": ["listen", "settings_poll_seconds"]},
        )


async def test_without_a_config_file_there_is_nothing_to_reload(files: Files) -> None:
    async with running_sidecar(load_config(files.config)) as sc:
        result = sc.sidecar.reload()
        assert not result.ok
        assert "without a config file" in result.problems[0]
        assert await reloads(sc, "error") == 1


async def test_an_in_flight_request_finishes_under_the_old_policy(tmp_path: Path) -> None:
    async with echo_upstream() as upstream:
        files = make_files(
            tmp_path, sites_config({"demo": site_data(upstream.url, "localhost", "127.0.0.1")})
        )
        async with reloadable(files) as sc:
            slow = asyncio.create_task(fetch(sc.http, sc.url + "/slow"))
            await asyncio.wait_for(upstream.slow_started.wait(), 5)
            files.write(lambda data: data["sites"]["demo"].update(hosts=["elsewhere.example"]))
            assert sc.sidecar.reload().ok
            assert (await fetch(sc.http, sc.url + "/"))[0] == 421  # new requests: the new policy
            upstream.release.set()
            assert await slow == (200, b"slow and fine")  # started before: finished under the old one


async def fetch(http: aiohttp.ClientSession, url: str, **headers: str) -> tuple[int, bytes]:
    async with http.get(url, headers=headers) as response:
        return response.status, await response.read()


async def test_reloading_under_traffic_fails_no_request(files: Files, demo: RunningDemo) -> None:
    async with reloadable(files) as sc:
        agents = [await agent(sc) for _ in range(4)]
        statuses: list[int] = []
        stop = asyncio.Event()

        async def mcp_loop(session: Agent) -> None:
            while not stop.is_set():
                statuses.append((await session.call("tools/list")).status)

        async def web_loop() -> None:
            while not stop.is_set():
                statuses.append((await fetch(sc.http, sc.url + "/"))[0])
                statuses.append((await fetch(sc.http, sc.url + "/.well-known/mcp.json"))[0])

        workers = [asyncio.create_task(mcp_loop(session)) for session in agents]
        workers.append(asyncio.create_task(web_loop()))
        results = []
        for round_ in range(8):
            await flowing(statuses)  # requests keep coming between (and across) reloads
            if round_ == 4:
                broken_yaml(files)
            else:
                site = files.data["sites"]["demo"]
                site["toolsets"] = (
                    ["read-only", "content"] if round_ % 2 else ["read-only", "content", "admin"]
                )
                files.write()
            results.append(sc.sidecar.reload().ok)
        await flowing(statuses)
        stop.set()
        await asyncio.gather(*workers)
    assert results == [True, True, True, True, False, True, True, True]
    assert set(statuses) == {200}


async def flowing(statuses: list[int]) -> None:
    """Wait until ten more requests have been answered."""
    seen = len(statuses)

    async def grown() -> bool:
        return len(statuses) >= seen + 10

    await eventually(grown)


async def test_sighup_and_the_cli_reload_a_running_process(demo: RunningDemo, tmp_path: Path) -> None:
    demo.site.reset()
    async with echo_upstream() as upstream:
        data = config_data(demo.url, top={"rate_limits": {"enabled": False}})
        data["sites"]["slow"] = site_data(upstream.url, "slow.test")
        config = write_config(tmp_path / "sidecar.yaml", data)
        async with sidecar_process(config) as proc, aiohttp.ClientSession() as http:

            async def counted(result: str) -> float:
                async with http.get(proc.ops_url + "/metrics") as response:
                    return metric(await response.text(), RELOADS, result=result)

            manifest = proc.url + "/.well-known/mcp.json"
            assert (await fetch(http, manifest))[0] == 200
            slow = asyncio.create_task(fetch(http, proc.url + "/slow", Host="slow.test"))
            await asyncio.wait_for(upstream.slow_started.wait(), 5)

            data["sites"]["demo"]["enabled"] = False  # the demo site's MCP switched off in config
            data["sites"]["slow"]["hosts"] = ["other.test"]
            write_config(config, data)
            proc.proc.send_signal(signal.SIGHUP)

            async def reloaded() -> bool:
                return await counted("ok") == 1

            await eventually(reloaded)
            assert (await fetch(http, manifest))[0] == 404
            assert (await fetch(http, proc.url + "/", Host="slow.test"))[0] == 421
            upstream.release.set()
            assert await slow == (200, b"slow and fine")

            config.write_text("sites: {demo: {hosts: []}}\n", encoding="utf-8")
            proc.proc.send_signal(signal.SIGHUP)

            async def rejected() -> bool:
                return await counted("error") == 1

            await eventually(rejected)
            assert "config_reload_rejected" in proc.output()
            assert "sites.demo.hosts" in proc.output()
            assert (await fetch(http, manifest))[0] == 404  # still the last good config

            cli = await run_cli(config, "reload")
            assert cli.code == 2  # the CLI checks the file first: an invalid one never reaches the sidecar
            assert "sites.demo" in cli.stderr
            data["sites"]["demo"]["enabled"] = True
            write_config(config, data)
            cli = await run_cli(config, "reload", "--format", "json")
            assert cli.code == 0, cli.stderr
            assert cli.json() == {"status": "reloaded", "restart_required": []}
            assert (await counted("ok"), await counted("error")) == (2, 1)
            assert (await fetch(http, manifest))[0] == 200


async def test_a_reload_keeps_every_callers_spent_allowance(demo: RunningDemo, tmp_path: Path) -> None:
    """In-memory rate counters outlive a reload: a reload must not hand a runaway agent a fresh burst."""
    limits = {"backend": "memory", "authenticated": {"requests": 2, "per_seconds": 3600}}
    site = site_data(demo.url, "localhost", "127.0.0.1")
    files = make_files(tmp_path, sites_config({"demo": site}, rate_limits=limits))
    async with reloadable(files) as sc:
        editor = await agent(sc)  # initialize: the first of two
        assert (await editor.call("ping")).status == 200
        assert (await editor.call("ping")).status == 429
        files.write(lambda data: data["sites"]["demo"].update(allowed_origins=["https://app.example"]))
        assert (await ops_reload(sc))[0] == 200
        refused = await editor.call("ping")
        assert (refused.status, refused.code) == (429, "rate_limited")
        assert int(refused.headers["Retry-After"]) > 1700  # one request per 1800 s, nearly all still to wait
