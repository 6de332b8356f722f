"""Entitlement against a real provisioning API and a real WordPress-shaped REST index (one test server).

Time is a fake clock: TTL, retry and grace are crossed by moving it, never by sleeping.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import TypeAdapter, ValidationError

from proxy.policy.entitlement import (
    Entitlement,
    EntitlementChecker,
    EntitlementSettings,
    FileEntitlement,
    HttpEntitlement,
    StaticEntitlement,
)

SETTINGS: TypeAdapter[Any] = TypeAdapter(EntitlementSettings)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Upstream:
    """What the test server answers; `hits` counts requests per endpoint."""

    modules: dict[str, list[str]] = field(default_factory=lambda: {"shop": ["sytewide_mcp", "seo"]})
    namespaces: list[str] = field(default_factory=lambda: ["oembed/1.0", "mcp", "wp/v2", "wp-abilities/v1"])
    status: int = 200
    index_status: int = 200
    body: bytes | None = None  # a raw body instead of the modules JSON
    hold: asyncio.Event | None = None  # when set, the modules endpoint waits for it
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # set by the first modules request
    hits: Counter[str] = field(default_factory=Counter)
    tokens: list[str | None] = field(default_factory=list)
    fields: list[str | None] = field(default_factory=list)


def make_app(state: Upstream) -> web.Application:
    async def modules(request: web.Request) -> web.StreamResponse:
        state.hits["modules"] += 1
        state.tokens.append(request.headers.get("X-Api-Token"))
        state.arrived.set()
        if state.hold is not None:
            await state.hold.wait()
        if state.status != 200:
            return web.Response(status=state.status, headers={"Location": "/elsewhere"})
        if state.body is not None:
            return web.Response(body=state.body, content_type="application/json")
        site = request.match_info["site"]
        if site not in state.modules:
            return web.json_response({"code": "unknown_site"}, status=404)
        return web.json_response({"modules": state.modules[site]})

    async def index(request: web.Request) -> web.StreamResponse:
        if request.path == "/" and request.query.get("rest_route") != "/":
            return web.Response(text="<html>home</html>", content_type="text/html")
        state.hits["index"] += 1
        state.fields.append(request.query.get("_fields"))
        if state.index_status != 200:
            return web.Response(status=state.index_status)
        return web.json_response({"namespaces": state.namespaces})

    app = web.Application()
    app.router.add_get("/sites/{site}/modules", modules)
    app.router.add_get("/wp-json/", index)
    app.router.add_get("/", index)
    return app


@pytest.fixture
async def upstream() -> Upstream:
    return Upstream()  # built inside the test's loop, for its events


@pytest.fixture
async def server(upstream: Upstream, aiohttp_server: Callable[..., Any]) -> TestServer:
    server: TestServer = await aiohttp_server(make_app(upstream))
    return server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def index_url(server: TestServer) -> str:
    return str(server.make_url("/wp-json/"))


@pytest.fixture
def http_settings(server: TestServer) -> HttpEntitlement:
    return SETTINGS.validate_python(
        {
            "source": "http",
            "url": str(server.make_url("/sites/")) + "{site}/modules",
            "module": "sytewide_mcp",
            "headers": {"X-Api-Token": "s3cret-token"},
            "ttl_seconds": 60,
            "grace_seconds": 300,
            "retry_seconds": 5,
            "timeout_seconds": 2,
        }
    )


@pytest.fixture
def make_checker(
    session: aiohttp.ClientSession, clock: FakeClock
) -> Callable[[StaticEntitlement | FileEntitlement | HttpEntitlement], EntitlementChecker]:
    def make(settings: StaticEntitlement | FileEntitlement | HttpEntitlement) -> EntitlementChecker:
        return EntitlementChecker(settings, session=session, clock=clock)

    return make


MakeChecker = Callable[[StaticEntitlement | FileEntitlement | HttpEntitlement], EntitlementChecker]


def verdict(entitlement: Entitlement) -> tuple[bool, str, bool]:
    return entitlement.entitled, entitlement.reason, entitlement.stale


class TestHttpSource:
    async def test_entitled_site(
        self, make_checker: MakeChecker, http_settings: HttpEntitlement, index_url: str, upstream: Upstream
    ) -> None:
        answer = await make_checker(http_settings).check("shop", index_url=index_url)
        assert answer == Entitlement(True, "ok", 1000.0, "http")
        assert upstream.hits == Counter(modules=1, index=1)
        assert upstream.tokens == ["s3cret-token"]
        assert upstream.fields == ["namespaces"]

    async def test_cached_for_ttl_then_asked_again(
        self,
        make_checker: MakeChecker,
        http_settings: HttpEntitlement,
        index_url: str,
        upstream: Upstream,
        clock: FakeClock,
    ) -> None:
        checker = make_checker(http_settings)
        await checker.check("shop", index_url=index_url)
        clock.advance(59.9)
        await checker.check("shop", index_url=index_url)
        assert upstream.hits == Counter(modules=1, index=1)
        clock.advance(0.1)
        assert (await checker.check("shop", index_url=index_url)).checked_at == 1060.0
        assert upstream.hits == Counter(modules=2, index=2)

    async def test_revoking_the_module(
        self,
        make_checker: MakeChecker,
        http_settings: HttpEntitlement,
        index_url: str,
        upstream: Upstream,
        clock: FakeClock,
    ) -> None:
        checker = make_checker(http_settings)
        assert (await checker.check("shop", index_url=index_url)).entitled
        upstream.modules["shop"] = ["seo"]
        clock.advance(60)
        answer = await checker.check("shop", index_url=index_url)
        assert verdict(answer) == (False, "module_missing", False)
        assert "sytewide_mcp" in answer.detail
        assert upstream.hits["index"] == 1  # not entitled: no need to look for the plugin

    async def test_unknown_site_is_not_entitled(
        self, make_checker: MakeChecker, http_settings: HttpEntitlement, index_url: str
    ) -> None:
        answer = await make_checker(http_settings).check("blog", index_url=index_url)
        assert verdict(answer) == (False, "not_entitled", False)

    async def test_site_name_is_escaped_into_the_url(
        self, make_checker: MakeChecker, http_settings: HttpEntitlement, index_url: str, upstream: Upstream
    ) -> None:
        upstream.modules["a/b c"] = ["sytewide_mcp"]
        assert (await make_checker(http_settings).check("a/b c", index_url=index_url)).entitled

    async def test_namespace_disappearing_is_plugin_missing(
        self,
        make_checker: MakeChecker,
        http_settings: HttpEntitlement,
        index_url: str,
        upstream: Upstream,
        clock: FakeClock,
    ) -> None:
        checker = make_checker(http_settings)
        assert (await checker.check("shop", index_url=index_url)).entitled
        upstream.namespaces = ["wp/v2", "mcp-renamed"]
        clock.advance(60)
        answer = await checker.check("shop", index_url=index_url)
        assert verdict(answer) == (False, "plugin_missing", False)
        upstream.namespaces.append("mcp")
        clock.advance(60)
        assert verdict(await checker.check("shop", index_url=index_url)) == (True, "ok", False)

    async def test_index_without_pretty_permalinks(
        self,
        make_checker: MakeChecker,
        http_settings: HttpEntitlement,
        server: TestServer,
        upstream: Upstream,
    ) -> None:
        index_url = str(server.make_url("/?rest_route=/"))
        assert (await make_checker(http_settings).check("shop", index_url=index_url)).entitled
        assert upstream.fields == ["namespaces"]

    async def test_no_namespace_required_skips_the_probe(
        self, make_checker: MakeChecker, http_settings: HttpEntitlement, upstream: Upstream
    ) -> None:
        settings = http_settings.model_copy(update={"require_namespace": None})
        assert (await make_checker(settings).check("shop")).entitled
        assert upstream.hits == Counter(modules=1)

    async def test_index_url_required_with_a_namespace(
        self, make_checker: MakeChecker, http_settings: HttpEntitlement
    ) -> None:
        with pytest.raises(ValueError, match="index_url"):
            await make_checker(http_settings).check("shop")


class TestOutages:
    async def test_grace_holds_then_closes_then_recovers(
        self,
        make_checker: MakeChecker,
        http_settings: HttpEntitlement,
        index_url: str,
        upstream: Upstream,
        clock: FakeClock,
    ) -> None:
        checker = make_checker(http_settings)
        assert verdict(await checker.check("shop", index_url=index_url)) == (True, "ok", False)
        upstream.status = 503
        clock.advance(60)  # TTL over, source down: grace runs from here
        held = await checker.check("shop", index_url=index_url)
        assert verdict(held) == (True, "ok", True)
        assert held.checked_at == 1000.0
        assert held.detail == "provisioning API answered HTTP 503"
        clock.advance(299)
        assert verdict(await checker.check("shop", index_url=index_url)) == (True, "ok", True)
        clock.advance(1)
        closed = await checker.check("shop", index_url=index_url)
        assert verdict(closed) == (False, "entitlement_unavailable", False)
        upstream.status = 200
        clock.advance(5)
        assert verdict(await checker.check("shop", index_url=index_url)) == (True, "ok", False)

    async def test_no_grace_for_an_answer_gone_stale_in_a_quiet_spell(
        self,
        make_checker: MakeChecker,
        http_settings: HttpEntitlement,
        index_url: str,
        upstream: Upstream,
        clock: FakeClock,
    ) -> None:
        checker = make_checker(http_settings)
        assert (await checker.check("shop", index_url=index_url)).entitled
        upstream.status = 503
        clock.advance(360)  # nobody asked since: the answer is TTL + grace old
        assert verdict(await checker.check("shop", index_url=index_url)) == (
            False,
            "entitlement_unavailable",
            False,
        )

    async def test_a_held_refusal_stays_a_refusal(
        self,
        make_checker: MakeChecker,
        http_settings: HttpEntitlement,
        index_url: str,
        upstream: Upstream,
        clock: FakeClock,
    ) -> None:
        upstream.modules["shop"] = []
        checker = make_checker(http_settings)
        assert (await checker.check("shop", index_url=index_url)).reason == "module_missing"
        upstream.status = 500
        clock.advance(60)
        assert verdict(await checker.check("shop", index_url=index_url)) == (False, "module_missing", True)

    async def test_server_gone(
        self,
        make_checker: MakeChecker,
        http_settings: HttpEntitlement,
        index_url: str,
        server: TestServer,
        clock: FakeClock,
    ) -> None:
        checker = make_checker(http_settings)
        assert (await checker.check("shop", index_url=index_url)).entitled
        await server.close()
        clock.advance(60)
        held = await checker.check("shop", index_url=index_url)
        assert verdict(held) == (True, "ok", True)
        assert held.detail.startswith("provisioning API unreachable")
        clock.advance(300)
        assert verdict(await checker.check("shop", index_url=index_url)) == (
            False,
            "entitlement_unavailable",
            False,
        )

    async def test_never_known_and_down_is_closed_and_retried(
        self,
        make_checker: MakeChecker,
        http_settings: HttpEntitlement,
        index_url: str,
        upstream: Upstream,
        clock: FakeClock,
    ) -> None:
        upstream.status = 502
        checker = make_checker(http_settings)
        answer = await checker.check("shop", index_url=index_url)
        assert verdict(answer) == (False, "entitlement_unavailable", False)
        clock.advance(4.9)
        await checker.check("shop", index_url=index_url)
        assert upstream.hits["modules"] == 1
        clock.advance(0.1)
        await checker.check("shop", index_url=index_url)
        assert upstream.hits["modules"] == 2

    async def test_retries_during_grace(
        self,
        make_checker: MakeChecker,
        http_settings: HttpEntitlement,
        index_url: str,
        upstream: Upstream,
        clock: FakeClock,
    ) -> None:
        checker = make_checker(http_settings)
        await checker.check("shop", index_url=index_url)
        upstream.status = 503
        clock.advance(60)
        await checker.check("shop", index_url=index_url)
        clock.advance(5)
        await checker.check("shop", index_url=index_url)
        upstream.status = 200
        clock.advance(5)
        assert verdict(await checker.check("shop", index_url=index_url)) == (True, "ok", False)
        assert upstream.hits["modules"] == 4

    async def test_index_down_counts_as_unavailable(
        self, make_checker: MakeChecker, http_settings: HttpEntitlement, index_url: str, upstream: Upstream
    ) -> None:
        upstream.index_status = 500
        answer = await make_checker(http_settings).check("shop", index_url=index_url)
        assert verdict(answer) == (False, "entitlement_unavailable", False)
        assert answer.detail == "WordPress REST index answered HTTP 500"

    @pytest.mark.parametrize(
        ("status", "body", "detail"),
        [
            (302, None, "provisioning API answered HTTP 302"),  # redirects are not followed with the token
            (401, None, "provisioning API answered HTTP 401"),
            (200, b"{not json", "provisioning API answered invalid JSON"),
            (200, b'{"active": true}', "provisioning API answer has no 'modules' list of strings"),
            (200, b'{"modules": [1, 2]}', "provisioning API answer has no 'modules' list of strings"),
            (200, b"[]", "provisioning API answer has no 'modules' list of strings"),
        ],
    )
    async def test_bad_answers_are_unavailable(
        self,
        make_checker: MakeChecker,
        http_settings: HttpEntitlement,
        index_url: str,
        upstream: Upstream,
        status: int,
        body: bytes | None,
        detail: str,
    ) -> None:
        upstream.status, upstream.body = status, body
        answer = await make_checker(http_settings).check("shop", index_url=index_url)
        assert (answer.reason, answer.detail) == ("entitlement_unavailable", detail)
        assert "s3cret" not in answer.detail

    async def test_timeout_is_unavailable(
        self, make_checker: MakeChecker, http_settings: HttpEntitlement, index_url: str, upstream: Upstream
    ) -> None:
        upstream.hold = asyncio.Event()
        settings = http_settings.model_copy(update={"timeout_seconds": 0.05})
        try:
            answer = await make_checker(settings).check("shop", index_url=index_url)
        finally:
            upstream.hold.set()
        assert (answer.reason, answer.detail) == (
            "entitlement_unavailable",
            "provisioning API unreachable (TimeoutError)",
        )


class TestSingleFlight:
    async def test_a_burst_makes_one_call(
        self, make_checker: MakeChecker, http_settings: HttpEntitlement, index_url: str, upstream: Upstream
    ) -> None:
        upstream.hold = asyncio.Event()
        checker = make_checker(http_settings)
        burst = asyncio.gather(*(checker.check("shop", index_url=index_url) for _ in range(50)))
        await asyncio.wait_for(upstream.arrived.wait(), timeout=5)
        upstream.hold.set()
        answers = await burst
        assert {verdict(answer) for answer in answers} == {(True, "ok", False)}
        assert upstream.hits == Counter(modules=1, index=1)

    async def test_one_call_per_site(
        self, make_checker: MakeChecker, http_settings: HttpEntitlement, index_url: str, upstream: Upstream
    ) -> None:
        upstream.modules["blog"] = ["sytewide_mcp"]
        checker = make_checker(http_settings)
        answers = await asyncio.gather(
            *(checker.check(site, index_url=index_url) for _ in range(10) for site in ("shop", "blog"))
        )
        assert all(answer.entitled for answer in answers)
        assert upstream.hits == Counter(modules=2, index=2)

    async def test_a_caller_leaving_does_not_cancel_the_others(
        self, make_checker: MakeChecker, http_settings: HttpEntitlement, index_url: str, upstream: Upstream
    ) -> None:
        upstream.hold = asyncio.Event()
        checker = make_checker(http_settings)
        leaving = asyncio.create_task(checker.check("shop", index_url=index_url))
        staying = asyncio.create_task(checker.check("shop", index_url=index_url))
        await asyncio.wait_for(upstream.arrived.wait(), timeout=5)
        leaving.cancel()
        upstream.hold.set()
        assert (await staying).entitled
        assert leaving.cancelled()
        assert upstream.hits["modules"] == 1


class TestStaticSource:
    async def test_entitled_still_needs_the_plugin(
        self, make_checker: MakeChecker, index_url: str, upstream: Upstream
    ) -> None:
        upstream.namespaces = ["wp/v2"]
        answer = await make_checker(StaticEntitlement()).check("shop", index_url=index_url)
        assert (answer.reason, answer.source) == ("plugin_missing", "static")

    async def test_switched_off(self, make_checker: MakeChecker, upstream: Upstream) -> None:
        answer = await make_checker(StaticEntitlement(entitled=False, require_namespace=None)).check("shop")
        assert verdict(answer) == (False, "not_entitled", False)
        assert not upstream.hits


class TestFileSource:
    def settings(self, path: Path, **extra: Any) -> FileEntitlement:
        return FileEntitlement(path=path, require_namespace=None, **extra)

    @staticmethod
    def write(path: Path, text: str, mtime: int) -> None:
        path.write_text(text)
        os.utime(path, (mtime, mtime))

    @pytest.mark.parametrize(
        ("name", "text", "module", "site", "reason"),
        [
            ("sites.json", '["shop", "blog"]', None, "shop", "ok"),
            ("sites.json", '["shop", "blog"]', None, "other", "not_entitled"),
            ("sites.json", '["shop"]', "sytewide_mcp", "shop", "ok"),  # a list entitles to every module
            ("sites.yaml", "- shop\n- blog\n", None, "blog", "ok"),
            ("sites.yml", "shop: [sytewide_mcp]\nblog: [seo]\n", "sytewide_mcp", "shop", "ok"),
            ("sites.yml", "shop: [sytewide_mcp]\nblog: [seo]\n", "sytewide_mcp", "blog", "module_missing"),
            ("sites.yml", "shop: [sytewide_mcp]\n", "sytewide_mcp", "other", "not_entitled"),
            ("sites.json", '{"shop": []}', None, "shop", "ok"),
        ],
    )
    async def test_formats(
        self,
        make_checker: MakeChecker,
        tmp_path: Path,
        name: str,
        text: str,
        module: str | None,
        site: str,
        reason: str,
    ) -> None:
        path = tmp_path / name
        path.write_text(text)
        answer = await make_checker(self.settings(path, module=module)).check(site)
        assert (answer.reason, answer.source) == (reason, "file")

    async def test_reread_when_the_file_changes(
        self, make_checker: MakeChecker, tmp_path: Path, clock: FakeClock
    ) -> None:
        path = tmp_path / "sites.json"
        self.write(path, json.dumps(["shop"]), mtime=1_000)
        checker = make_checker(self.settings(path))
        assert (await checker.check("shop")).entitled
        self.write(path, json.dumps(["blog"]), mtime=2_000)
        clock.advance(60)
        assert (await checker.check("shop")).reason == "not_entitled"
        assert (await checker.check("blog")).entitled

    async def test_broken_or_missing_file_holds_then_closes(
        self, make_checker: MakeChecker, tmp_path: Path, clock: FakeClock
    ) -> None:
        path = tmp_path / "sites.yaml"
        self.write(path, "- shop\n", mtime=1_000)
        checker = make_checker(self.settings(path))
        assert (await checker.check("shop")).entitled
        self.write(path, "shop: [unclosed\n", mtime=2_000)
        clock.advance(60)
        held = await checker.check("shop")
        assert verdict(held) == (True, "ok", True)
        assert "is not a list of sites" in held.detail
        path.unlink()
        clock.advance(300)
        closed = await checker.check("shop")
        assert verdict(closed) == (False, "entitlement_unavailable", False)
        assert closed.detail.startswith("cannot read")

    @pytest.mark.parametrize("text", ['{"shop": "sytewide_mcp"}', "[1, 2]", "shop", '{"shop": null}'])
    async def test_wrong_shapes_are_unavailable(
        self, make_checker: MakeChecker, tmp_path: Path, text: str
    ) -> None:
        path = tmp_path / "sites.yaml"
        path.write_text(text)
        assert (await make_checker(self.settings(path)).check("shop")).reason == "entitlement_unavailable"


class TestSettings:
    def test_defaults(self) -> None:
        settings = SETTINGS.validate_python({"source": "static"})
        assert isinstance(settings, StaticEntitlement)
        assert (settings.ttl_seconds, settings.grace_seconds, settings.require_namespace) == (60, 300, "mcp")

    def test_token_is_never_shown(self, http_settings: HttpEntitlement) -> None:
        assert "s3cret" not in repr(http_settings)
        assert "s3cret" not in str(http_settings.model_dump())

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"source": "ldap"}, "does not match any of the expected tags"),
            ({}, "Unable to extract tag"),
            ({"source": "http", "url": "https://p.example/{site}"}, "module\n  Field required"),
            ({"source": "http", "url": "ftp://p.example/{site}", "module": "m"}, "absolute http"),
            ({"source": "http", "url": "/relative/{site}", "module": "m"}, "absolute http"),
            ({"source": "file"}, "path\n  Field required"),
            ({"source": "static", "require_namespace": "/mcp/"}, "REST namespace"),
            ({"source": "static", "ttl_seconds": 0}, "greater than 0"),
            ({"source": "static", "grace_seconds": -1}, "greater than or equal to 0"),
            ({"source": "static", "entitled": True, "typo": 1}, "Extra inputs are not permitted"),
        ],
    )
    def test_invalid(self, data: dict[str, Any], message: str) -> None:
        with pytest.raises(ValidationError, match=message):
            SETTINGS.validate_python(data)
