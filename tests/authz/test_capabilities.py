"""The capability resolver against a real aiohttp server that answers like WordPress users/me: below the
site's own REST root, and per Host like a multisite or a name-based virtual host."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from proxy.authz import CapabilityResolver
from proxy.errors import SidecarError

EDITOR_CAPS = {"read": True, "level_0": True, "edit_posts": True, "editor": True, "delete_site": False}


@dataclass
class FakeWordPress:
    """users/me?context=edit with Basic auth; `mode` breaks it on purpose."""

    users: dict[str, tuple[str, dict[str, Any]]] = field(
        default_factory=lambda: {"ed": ("pw-ed", dict(EDITOR_CAPS))}
    )
    hits: int = 0
    mode: str = "ok"
    hold: asyncio.Event | None = None  # when set, answers wait for it (bursts overlap for sure)
    vhost: str | None = None  # when set, only this Host reaches the site (others: the server's 404)
    hosts_seen: list[str] = field(default_factory=list)

    async def users_me(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        self.hosts_seen.append(request.headers.get("Host", ""))
        if self.vhost is not None and request.headers.get("Host") != self.vhost:
            return web.Response(status=404, text="<html>no such site</html>", content_type="text/html")
        if self.hold is not None:
            await self.hold.wait()
        if request.query.get("context") != "edit":
            return web.json_response({"code": "rest_forbidden_context"}, status=401)
        if self.mode == "500":
            return web.json_response({"code": "internal_server_error"}, status=500)
        if self.mode == "slow":
            await asyncio.sleep(5)
        if self.mode == "redirect":
            raise web.HTTPFound("https://elsewhere.example/wp-json/wp/v2/users/me")
        if self.mode == "garbage":
            return web.Response(text="<html>maintenance</html>", content_type="text/html")
        if self.mode == "no-caps":
            return web.json_response({"id": 1, "name": "x"})
        login, _, password = (
            base64.b64decode(request.headers.get("Authorization", "Basic ")[6:]).decode().partition(":")
        )
        user = self.users.get(login)
        if user is None or user[0] != password:
            return web.json_response(
                {
                    "code": "rest_forbidden",
                    "message": "Sorry, you are not allowed to do that.",
                    "data": {"status": 401},
                },
                status=401,
            )
        capabilities = user[1]
        roles = [name for name in ("administrator", "editor", "subscriber") if name in capabilities]
        return web.json_response({"id": 2, "name": login, "roles": roles, "capabilities": capabilities})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def serving(fake: FakeWordPress, rest_root: str) -> AsyncIterator[tuple[str, TestServer]]:
    """`fake` answering users/me below `rest_root` (a path); yields the REST root's URL and the server."""
    app = web.Application()
    app.router.add_get(rest_root + "/wp/v2/users/me", fake.users_me)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield str(server.make_url(rest_root)), server
    finally:
        await server.close()


@pytest.fixture
async def wordpress() -> AsyncIterator[tuple[FakeWordPress, str, TestServer]]:
    fake = FakeWordPress()
    async with serving(fake, "/wp-json") as (rest_root, server):
        yield fake, rest_root, server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_resolver(session: aiohttp.ClientSession, clock: Clock) -> Callable[..., CapabilityResolver]:
    def make(**options: Any) -> CapabilityResolver:
        return CapabilityResolver(session, timer=clock, **{"ttl_seconds": 60, **options})

    return make


async def test_capabilities_and_roles(
    wordpress: tuple[FakeWordPress, str, TestServer], make_resolver: Any
) -> None:
    _, base, _ = wordpress
    capabilities = await make_resolver().resolve("demo", base + "/", "ed", "pw-ed")
    assert capabilities == {"read", "level_0", "edit_posts", "editor"}  # delete_site: false is left out


@pytest.mark.parametrize("rest_root", ["/blog/wp-json", "/api", "/blog/team/api"])
async def test_asks_below_the_sites_own_rest_root(make_resolver: Any, rest_root: str) -> None:
    """A sub-directory site and a custom rest_prefix: users/me lives below `<path_prefix><rest_prefix>`,
    and nothing answers at the host's /wp-json."""
    fake = FakeWordPress()
    async with serving(fake, rest_root) as (url, _):
        assert "edit_posts" in await make_resolver().resolve("demo", url + "/", "ed", "pw-ed")
    assert fake.hits == 1


async def test_sends_the_sites_host_to_a_virtual_host(make_resolver: Any) -> None:
    fake = FakeWordPress(vhost="blog.example")
    async with serving(fake, "/wp-json") as (url, _):
        resolver = make_resolver()
        with pytest.raises(SidecarError) as caught:  # without the site's Host: another site's 404
            await resolver.resolve("plain", url, "ed", "pw-ed")
        capabilities = await resolver.resolve("demo", url, "ed", "pw-ed", host="blog.example")
    assert caught.value.code == "capabilities_unavailable"
    assert "edit_posts" in capabilities
    assert fake.hosts_seen[-1] == "blog.example"


async def test_cached_until_ttl_then_change_seen(
    wordpress: tuple[FakeWordPress, str, TestServer], make_resolver: Any, clock: Clock
) -> None:
    fake, base, _ = wordpress
    resolver = make_resolver()
    assert "edit_posts" in await resolver.resolve("demo", base, "ed", "pw-ed")
    fake.users["ed"] = ("pw-ed", {"read": True, "subscriber": True})  # demoted
    clock.now += 59
    assert "edit_posts" in await resolver.resolve("demo", base, "ed", "pw-ed")
    assert fake.hits == 1
    clock.now += 2
    assert await resolver.resolve("demo", base, "ed", "pw-ed") == {"read", "subscriber"}
    assert fake.hits == 2


async def test_cache_is_per_site_and_per_password(
    wordpress: tuple[FakeWordPress, str, TestServer], make_resolver: Any
) -> None:
    fake, base, _ = wordpress
    resolver = make_resolver()
    await resolver.resolve("demo", base, "ed", "pw-ed")
    await resolver.resolve("other-site", base, "ed", "pw-ed")
    assert fake.hits == 2
    fake.users["ed"] = ("pw-new", dict(EDITOR_CAPS))
    await resolver.resolve("demo", base, "ed", "pw-new")  # a new password is a miss, not the old answer
    assert fake.hits == 3


async def test_burst_makes_one_upstream_call(
    wordpress: tuple[FakeWordPress, str, TestServer], make_resolver: Any
) -> None:
    fake, base, _ = wordpress
    fake.hold = asyncio.Event()
    resolver = make_resolver()
    burst = asyncio.gather(*(resolver.resolve("demo", base, "ed", "pw-ed") for _ in range(50)))
    while fake.hits == 0:
        await asyncio.sleep(0.001)
    fake.hold.set()
    answers = await burst
    assert fake.hits == 1
    assert len(set(answers)) == 1


async def test_a_cancelled_waiter_does_not_cancel_the_others(
    wordpress: tuple[FakeWordPress, str, TestServer], make_resolver: Any
) -> None:
    fake, base, _ = wordpress
    fake.hold = asyncio.Event()
    resolver = make_resolver()
    impatient = asyncio.ensure_future(resolver.resolve("demo", base, "ed", "pw-ed"))
    patient = asyncio.ensure_future(resolver.resolve("demo", base, "ed", "pw-ed"))
    while fake.hits == 0:
        await asyncio.sleep(0.001)
    impatient.cancel()
    fake.hold.set()
    assert "edit_posts" in await patient
    assert fake.hits == 1


@pytest.mark.parametrize("mode", ["500", "garbage", "no-caps", "redirect", "slow"])
async def test_broken_upstream_fails_closed(
    wordpress: tuple[FakeWordPress, str, TestServer], make_resolver: Any, mode: str
) -> None:
    fake, base, _ = wordpress
    fake.mode = mode
    with pytest.raises(SidecarError) as caught:
        await make_resolver(timeout_seconds=0.2).resolve("demo", base, "ed", "pw-ed")
    assert (caught.value.status, caught.value.code) == (503, "capabilities_unavailable")
    assert "pw-ed" not in caught.value.message


async def test_upstream_down_fails_closed(
    wordpress: tuple[FakeWordPress, str, TestServer], make_resolver: Any
) -> None:
    _, base, server = wordpress
    resolver = make_resolver()
    await server.close()
    with pytest.raises(SidecarError) as caught:
        await resolver.resolve("demo", base, "ed", "pw-ed")
    assert (caught.value.status, caught.value.code) == (503, "capabilities_unavailable")


async def test_failures_are_remembered_briefly(
    wordpress: tuple[FakeWordPress, str, TestServer], make_resolver: Any, clock: Clock
) -> None:
    fake, base, _ = wordpress
    fake.mode = "500"
    resolver = make_resolver(failure_ttl_seconds=5)
    for _ in range(3):
        with pytest.raises(SidecarError):
            await resolver.resolve("demo", base, "ed", "pw-ed")
    assert fake.hits == 1  # a dead upstream is not hammered
    fake.mode = "ok"
    clock.now += 6
    assert "edit_posts" in await resolver.resolve("demo", base, "ed", "pw-ed")
    assert fake.hits == 2


async def test_rejected_password_drops_the_cache_and_denies(
    wordpress: tuple[FakeWordPress, str, TestServer], make_resolver: Any, clock: Clock
) -> None:
    fake, base, _ = wordpress
    resolver = make_resolver(failure_ttl_seconds=5)
    assert "edit_posts" in await resolver.resolve("demo", base, "ed", "pw-ed")
    del fake.users["ed"]  # the application password was revoked
    resolver.invalidate("demo", "ed")  # e.g. after the MCP route itself answered 401
    for _ in range(2):
        with pytest.raises(SidecarError) as caught:
            await resolver.resolve("demo", base, "ed", "pw-ed")
        assert (caught.value.status, caught.value.code) == (403, "upstream_credential_rejected")
    assert fake.hits == 2  # the second refusal came from the short negative cache
    fake.users["ed"] = ("pw-ed", dict(EDITOR_CAPS))
    clock.now += 6
    assert "edit_posts" in await resolver.resolve("demo", base, "ed", "pw-ed")


async def test_rejection_after_expiry_drops_the_old_answer(
    wordpress: tuple[FakeWordPress, str, TestServer], make_resolver: Any, clock: Clock
) -> None:
    fake, base, _ = wordpress
    resolver = make_resolver(failure_ttl_seconds=5)
    await resolver.resolve("demo", base, "ed", "pw-ed")
    fake.users["ed"] = ("pw-other", dict(EDITOR_CAPS))
    clock.now += 61
    with pytest.raises(SidecarError) as caught:
        await resolver.resolve("demo", base, "ed", "pw-ed")
    assert caught.value.code == "upstream_credential_rejected"
    clock.now += 6
    with pytest.raises(SidecarError):  # asked again after the negative entry expired: still refused
        await resolver.resolve("demo", base, "ed", "pw-ed")
    assert fake.hits == 3


async def test_invalidate_during_flight_discards_that_answer(
    wordpress: tuple[FakeWordPress, str, TestServer], make_resolver: Any
) -> None:
    fake, base, _ = wordpress
    fake.hold = asyncio.Event()
    resolver = make_resolver()
    early = asyncio.ensure_future(resolver.resolve("demo", base, "ed", "pw-ed"))
    while fake.hits == 0:
        await asyncio.sleep(0.001)
    resolver.invalidate("demo", "ed")  # the role changed while users/me was being asked
    fake.hold.set()
    await early
    await resolver.resolve("demo", base, "ed", "pw-ed")
    assert fake.hits == 2  # the answer that was in flight was not cached
