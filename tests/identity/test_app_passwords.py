"""WordPress's Application Passwords as the sidecar calls them, against the demo WordPress."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from proxy.demo import DEMO_APP_PASSWORDS, RunningDemo
from proxy.demo.users import INSTALL_APP_ID
from proxy.identity.app_passwords import (
    ApplicationPasswords,
    AppPasswordRejected,
    WordPressUnavailable,
    app_id_for,
    authorize_application_url,
)
from tests.demo_upstream import demo_fixture
from tests.ports import refused_port

pytestmark = pytest.mark.asyncio(loop_scope="module")


demo = demo_fixture()


@pytest_asyncio.fixture(loop_scope="module")
async def http(demo: RunningDemo) -> AsyncIterator[aiohttp.ClientSession]:
    demo.site.reset()
    async with aiohttp.ClientSession() as session:
        yield session


def _passwords(http: aiohttp.ClientSession, base: str) -> ApplicationPasswords:
    return ApplicationPasswords(http, rest_base=base + "/wp-json", host=None, timeout_seconds=2)


async def test_the_authorization_url_and_app_id() -> None:
    url = authorize_application_url(
        "https://blog.example",
        app_name="Claude (MCP, localhost)",
        app_id="a-b",
        success_url="https://blog.example/oauth/callback?txn=t",
        reject_url="https://blog.example/oauth/callback?txn=t&success=false",
    )
    parts = urlsplit(url)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}"
        == "https://blog.example/wp-admin/authorize-application.php"
    )
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert query["app_name"] == "Claude (MCP, localhost)"
    assert query["success_url"] == "https://blog.example/oauth/callback?txn=t"
    assert app_id_for("https://i", "demo", "c1") == app_id_for("https://i", "demo", "c1")
    assert app_id_for("https://i", "demo", "c1") != app_id_for("https://i", "demo", "c2")


async def test_introspect_names_the_password(demo: RunningDemo, http: aiohttp.ClientSession) -> None:
    made = demo.site.users["editor"].create_app_password(name="Claude", app_id="app-1")
    passwords = _passwords(http, demo.url)
    info = await passwords.introspect("editor", made)
    assert info.app_id == "app-1"
    assert info.uuid == demo.site.app_passwords("editor")[-1].uuid
    installed = await passwords.introspect("editor", DEMO_APP_PASSWORDS["editor"])
    assert installed.app_id == INSTALL_APP_ID


@pytest.mark.parametrize(
    ("login", "password"), [("editor", "wrong"), ("nobody", DEMO_APP_PASSWORDS["editor"]), ("admin", "x")]
)
async def test_introspect_refuses_what_wordpress_refuses(
    demo: RunningDemo, http: aiohttp.ClientSession, login: str, password: str
) -> None:
    with pytest.raises(AppPasswordRejected):
        await _passwords(http, demo.url).introspect(login, password)


async def test_revoke_deletes_at_wordpress(demo: RunningDemo, http: aiohttp.ClientSession) -> None:
    made = demo.site.users["editor"].create_app_password(name="Claude", app_id="app-1")
    target = demo.site.app_passwords("editor")[-1].uuid
    passwords = _passwords(http, demo.url)
    assert await passwords.revoke("editor", made, target) is True  # a password may delete itself
    assert await passwords.revoke("editor", DEMO_APP_PASSWORDS["editor"], target) is False  # gone already
    with pytest.raises(AppPasswordRejected):
        await passwords.introspect("editor", made)


async def _serve(handler: Callable[[web.Request], Awaitable[web.Response]]) -> TestServer:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    return server


@pytest.mark.parametrize(
    "answer",
    [
        lambda: web.Response(status=500),
        lambda: web.Response(status=302, headers={"Location": "https://elsewhere.example/"}),
        lambda: web.Response(status=200, text="<html>not json</html>"),
        lambda: web.json_response({"uuid": 1}),
        lambda: web.Response(status=200, body=b"[" * 70000, content_type="application/json"),
    ],
    ids=["5xx", "redirect", "html", "no-app-id", "oversized"],
)
async def test_a_broken_wordpress_is_unavailable(answer: Callable[[], web.Response]) -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Host", ""))
        return answer()

    server = await _serve(handler)
    try:
        async with aiohttp.ClientSession() as http:
            passwords = ApplicationPasswords(
                http, rest_base=str(server.make_url("/wp-json")), host="blog.example", timeout_seconds=2
            )
            with pytest.raises(WordPressUnavailable):
                await passwords.introspect("editor", "pw")
            assert await passwords.revoke("editor", "pw", "u1") is False
    finally:
        await server.close()
    assert seen == ["blog.example", "blog.example"]  # the Host a multisite picks its site by


async def test_an_unreachable_wordpress_is_unavailable(http: aiohttp.ClientSession) -> None:
    with refused_port() as port:
        passwords = _passwords(http, f"http://127.0.0.1:{port}")
        with pytest.raises(WordPressUnavailable):
            await passwords.introspect("editor", "pw")
        assert await passwords.revoke("editor", "pw", "u1") is False
