"""The authorization-code flow end to end: an MCP client, a person who logs in to WordPress and approves,
the sidecar, and the demo WordPress, over real sockets. No configured users: every WordPress identity
here comes from a consent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientMetadata,
)
from pydantic import AnyUrl

from proxy.demo import RunningDemo
from proxy.demo.users import normalize_app_password
from proxy.endpoints.authorize import BINDING_COOKIE
from proxy.observe import configure_logging
from tests.demo.browser import Page
from tests.demo_upstream import demo_fixture
from tests.e2e.oauth_support import (
    REDIRECT_URI,
    MemoryTokenStorage,
    OAuthSidecar,
    authorize_url,
    browser,
    consent,
    oauth_sidecar,
    pkce,
    query_of,
    upstream_passwords,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

DISCOVER = "mcp-adapter-discover-abilities"


demo = demo_fixture()


@pytest_asyncio.fixture(loop_scope="module")
async def sc(demo: RunningDemo) -> AsyncIterator[OAuthSidecar]:
    demo.site.reset()
    async with oauth_sidecar(demo) as running:
        yield running


async def authorized(sc: OAuthSidecar, login: str) -> tuple[str, dict[str, str]]:
    """A client, and the token response after `login` approved it."""
    client_id = await sc.public_client()
    verifier, challenge = pkce()
    answer = await consent(sc, client_id, challenge, login=login)
    status, tokens = await sc.exchange(client_id, answer["code"], verifier)
    assert status == 200, tokens
    return client_id, tokens


async def abilities(sc: OAuthSidecar, token: str) -> list[str]:
    status, answer = await sc.mcp(token, "tools/call", {"name": DISCOVER, "arguments": {}})
    assert status == 200, answer
    return sorted(ability["name"] for ability in answer["result"]["structuredContent"]["abilities"])


@pytest.mark.parametrize(
    ("login", "visible"),
    [("editor", ["demo/create-post", "demo/get-post"]), ("subscriber", ["demo/get-post"])],
)
async def test_a_wordpress_user_authorizes_a_client_and_it_acts_as_them(
    sc: OAuthSidecar, demo: RunningDemo, login: str, visible: list[str]
) -> None:
    client_id = await sc.public_client()
    verifier, challenge = pkce()
    answer = await consent(sc, client_id, challenge, login=login)
    assert answer.keys() == {"code", "state", "iss"}
    assert (answer["state"], answer["iss"]) == ("state-123", sc.url)
    status, tokens = await sc.exchange(client_id, answer["code"], verifier)
    assert status == 200
    assert tokens["token_type"] == "Bearer"
    assert tokens["refresh_token"]
    assert tokens["scope"].split() == [
        "mcp.read",
        "content.read",
        "content.write",
        "users.read",
        "settings.write",
    ]
    assert await abilities(sc, tokens["access_token"]) == visible
    # WordPress made one new password, named after the client, and only it reached WordPress.
    made = demo.site.app_passwords(login)[-1]
    assert made.name == "Test app (MCP, 127.0.0.1)"
    assert {normalize_app_password(p) for p in upstream_passwords(demo, login)} == {made.password}


async def test_the_sdk_oauth_client_registers_and_completes_the_flow(
    sc: OAuthSidecar, demo: RunningDemo
) -> None:
    """The mcp SDK's own OAuth provider, given only the MCP URL: 401, metadata, dynamic registration,
    authorization through WordPress (a person driven over HTTP), token, tools."""
    landing: list[str] = []

    async def redirect_handler(url: str) -> None:
        async with browser() as person:
            landed = await person.approve(url, login="editor", stop_at=REDIRECT_URI)
        assert isinstance(landed, str)
        landing.append(landed)

    async def callback_handler() -> AuthorizationCodeResult:
        params = query_of(landing[-1])
        return AuthorizationCodeResult(code=params["code"], state=params.get("state"), iss=params.get("iss"))

    storage = MemoryTokenStorage()
    provider = OAuthClientProvider(
        server_url=sc.mcp_url,
        client_metadata=OAuthClientMetadata(
            redirect_uris=[AnyUrl(REDIRECT_URI)], client_name="SDK client", token_endpoint_auth_method="none"
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    async with (
        create_mcp_http_client(auth=provider) as http,
        Client(streamable_http_client(sc.mcp_url, http_client=http), mode="legacy") as client,
    ):
        tools = [tool.name for tool in (await client.list_tools()).tools]
        discovered = await client.call_tool(DISCOVER, {})
    assert set(tools) == {DISCOVER, "mcp-adapter-get-ability-info", "mcp-adapter-execute-ability"}
    assert discovered.structured_content is not None
    assert sorted(a["name"] for a in discovered.structured_content["abilities"]) == [
        "demo/create-post",
        "demo/get-post",
    ]
    assert storage.client is not None
    assert storage.client.client_id.startswith("mcpc_")
    assert storage.tokens is not None
    assert storage.tokens.refresh_token
    assert demo.site.app_passwords("editor")[-1].name == "SDK client (MCP, 127.0.0.1)"


async def test_a_wrong_code_verifier_burns_the_code(sc: OAuthSidecar) -> None:
    client_id = await sc.public_client()
    verifier, challenge = pkce()
    answer = await consent(sc, client_id, challenge, login="editor")
    wrong, _ = pkce()
    status, refused = await sc.exchange(client_id, answer["code"], wrong)
    assert (status, refused["error"]) == (400, "invalid_grant")
    status, again = await sc.exchange(client_id, answer["code"], verifier)
    assert (status, again["error"]) == (400, "invalid_grant")


async def test_a_reused_code_kills_the_tokens_it_gave(sc: OAuthSidecar) -> None:
    client_id = await sc.public_client()
    verifier, challenge = pkce()
    answer = await consent(sc, client_id, challenge, login="editor")
    status, tokens = await sc.exchange(client_id, answer["code"], verifier)
    assert status == 200
    assert (await sc.mcp(tokens["access_token"], "tools/list"))[0] == 200
    status, replay = await sc.exchange(client_id, answer["code"], verifier)
    assert (status, replay["error"]) == (400, "invalid_grant")
    status, body = await sc.mcp(tokens["access_token"], "tools/list")
    assert status == 401
    assert body["error"]["data"]["code"] == "invalid_token"


async def test_refresh_tokens_rotate_and_a_replayed_one_kills_the_family(sc: OAuthSidecar) -> None:
    client_id, tokens = await authorized(sc, "editor")
    status, fresh = await sc.token(
        grant_type="refresh_token", refresh_token=tokens["refresh_token"], client_id=client_id
    )
    assert status == 200
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert await abilities(sc, fresh["access_token"]) == ["demo/create-post", "demo/get-post"]
    status, replay = await sc.token(
        grant_type="refresh_token", refresh_token=tokens["refresh_token"], client_id=client_id
    )
    assert (status, replay["error"]) == (400, "invalid_grant")
    assert (await sc.mcp(fresh["access_token"], "tools/list"))[0] == 401
    status, _ = await sc.token(
        grant_type="refresh_token", refresh_token=fresh["refresh_token"], client_id=client_id
    )
    assert status == 400


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"client_id": "mcpc_unknown"}, "invalid_client"),
        ({"redirect_uri": "http://127.0.0.1:9/elsewhere"}, "invalid_redirect_uri"),
        ({"redirect_uri": "https://evil.example/callback"}, "invalid_redirect_uri"),
        ({"redirect_uri": None}, "invalid_redirect_uri"),
    ],
)
async def test_an_untrusted_client_or_redirect_uri_is_never_redirected_to(
    sc: OAuthSidecar, change: dict[str, str | None], error: str
) -> None:
    client_id = await sc.public_client()
    url = authorize_url(sc, client_id, pkce()[1], **change)
    async with sc.http.get(url, allow_redirects=False) as response:
        assert response.status == 400
        assert "Location" not in response.headers
        assert (await response.json())["error"] == error
    async with sc.http.get(url, allow_redirects=False, headers={"Accept": "text/html"}) as response:
        assert response.status == 400
        assert response.content_type == "text/html"
        assert "Authorization failed" in await response.text()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"scope": "mcp.read admin.everything"}, "invalid_scope"),
        ({"resource": "https://other.example/mcp"}, "invalid_target"),
    ],
)
async def test_other_errors_go_back_to_the_client_with_state_and_iss(
    sc: OAuthSidecar, demo: RunningDemo, change: dict[str, str | None], error: str
) -> None:
    client_id = await sc.public_client()
    url = authorize_url(sc, client_id, pkce()[1], **change)
    async with sc.http.get(url, allow_redirects=False) as response:
        assert response.status == 302
        location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    params = query_of(location)
    assert (params["error"], params["state"], params["iss"]) == (error, "state-123", sc.url)
    assert "code" not in params
    assert [r for r in demo.site.requests if r.path.startswith("/wp-admin")] == []  # WordPress never asked


async def test_rejecting_at_wordpress_is_access_denied(sc: OAuthSidecar, demo: RunningDemo) -> None:
    client_id = await sc.public_client()
    answer = await consent(sc, client_id, pkce()[1], login="editor", approve=False)
    assert answer["error"] == "access_denied"
    assert (answer["state"], answer["iss"]) == ("state-123", sc.url)
    assert "code" not in answer
    assert len(demo.site.app_passwords("editor")) == 1  # only the one made at install


async def test_a_callback_works_once_and_only_in_the_browser_that_started(sc: OAuthSidecar) -> None:
    client_id = await sc.public_client()
    url = authorize_url(sc, client_id, pkce()[1])
    async with browser() as person:
        approved = await person.approve(url, login="editor", stop_at=sc.url + "/oauth/callback")
        assert isinstance(approved, str)
        # Another browser (no binding cookie) brings the approval back: no code for it.
        async with sc.http.get(approved, allow_redirects=False) as stolen:
            assert stolen.status == 302
            assert query_of(stolen.headers["Location"])["error"] == "access_denied"
        # The transaction is spent: the right browser is now too late as well.
        replayed = await person.go(approved, stop_at=REDIRECT_URI)
        assert isinstance(replayed, Page)
        assert replayed.status == 400
    async with browser() as person:
        landed = await person.approve(url, login="editor", stop_at=REDIRECT_URI)
        assert isinstance(landed, str)
        assert "code" in query_of(landed)
        assert not [c for c in person.http.cookie_jar if c.key.startswith(BINDING_COOKIE)]  # cleared


async def test_two_flows_side_by_side_in_one_browser(sc: OAuthSidecar) -> None:
    client_id = await sc.public_client()
    callback = sc.url + "/oauth/callback"
    async with browser() as person:
        first = await person.approve(
            authorize_url(sc, client_id, pkce()[1], state="one"), login="editor", stop_at=callback
        )
        second = await person.approve(
            authorize_url(sc, client_id, pkce()[1], state="two"), login="editor", stop_at=callback
        )
        assert isinstance(first, str)
        assert isinstance(second, str)
        landed = [await person.go(url, stop_at=REDIRECT_URI) for url in (second, first)]
    assert [query_of(url)["state"] for url in landed if isinstance(url, str)] == ["two", "one"]
    assert all("code" in query_of(url) for url in landed if isinstance(url, str))


@pytest.mark.parametrize(
    ("forged", "expected"),
    [
        (
            {"user_login": "admin", "password": "abcdabcdabcdabcdabcdabcd"},
            "access_denied",
        ),  # no such password
        (
            {"user_login": "admin", "password": "AdmN 7pQ2 Lx9c Vb4k Rt6w Zy3m"},
            "access_denied",
        ),  # not for this app
        ({"user_login": "ad:min", "password": "x"}, "access_denied"),
        ({"user_login": "", "password": ""}, "access_denied"),
    ],
)
async def test_a_made_up_approval_gets_no_code(
    sc: OAuthSidecar, forged: dict[str, str], expected: str
) -> None:
    """The callback trusts nothing it is given: WordPress must confirm the password, made for this client."""
    client_id = await sc.public_client()
    async with browser() as person:
        started = await person.go(authorize_url(sc, client_id, pkce()[1]), stop_at=sc.url + "/wp-admin/")
        assert isinstance(started, str)
        success_url = query_of(started)["success_url"]
        landed = await person.go(f"{success_url}&{urlencode(forged)}", stop_at=REDIRECT_URI)
    assert isinstance(landed, str)
    assert query_of(landed)["error"] == expected


async def test_authorizing_again_replaces_the_password_and_deletes_the_old_one(
    sc: OAuthSidecar, demo: RunningDemo
) -> None:
    client_id = await sc.public_client()
    verifier, challenge = pkce()
    first = await consent(sc, client_id, challenge, login="editor")
    _, old_tokens = await sc.exchange(client_id, first["code"], verifier)
    first_password = demo.site.app_passwords("editor")[-1]
    verifier, challenge = pkce()
    second = await consent(sc, client_id, challenge, login="editor")
    _, new_tokens = await sc.exchange(client_id, second["code"], verifier)
    made = demo.site.app_passwords("editor")
    assert first_password not in made
    assert len(made) == 2  # the one made at install, and the client's current one
    demo.site.reset_counters()
    assert await abilities(sc, old_tokens["access_token"]) == await abilities(sc, new_tokens["access_token"])
    assert {normalize_app_password(p) for p in upstream_passwords(demo, "editor")} == {made[-1].password}


async def test_revoking_the_password_in_wordpress_cuts_the_client_off(demo: RunningDemo) -> None:
    demo.site.reset()
    async with oauth_sidecar(demo, top={"capabilities": {"ttl_seconds": 0}}) as sc:  # ask WordPress each time
        _, tokens = await authorized(sc, "editor")
        assert await abilities(sc, tokens["access_token"]) == ["demo/create-post", "demo/get-post"]
        demo.site.users["editor"].delete_app_password(demo.site.app_passwords("editor")[-1].uuid)
        status, body = await sc.mcp(tokens["access_token"], "tools/call", {"name": DISCOVER, "arguments": {}})
    assert status == 403
    assert body["error"]["data"]["code"] == "upstream_credential_rejected"


async def test_other_principals_never_use_a_users_granted_password(sc: OAuthSidecar) -> None:
    """An API key for the same login finds no configured password: the granted one is the client's only."""
    await authorized(sc, "editor")
    issued = await sc.sidecar.services.identity.keys.issue(
        "demo", "editor", label="k", scopes=["mcp.read"], profile=None, ttl_hours=1
    )
    async with sc.http.post(
        sc.mcp_url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"X-API-Key": issued.raw, "Accept": "application/json, text/event-stream"},
    ) as response:
        assert response.status == 403
        assert (await response.json())["error"]["data"]["code"] == "unknown_wp_user"


async def test_no_secret_of_the_flow_reaches_the_logs(
    sc: OAuthSidecar, demo: RunningDemo, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(level="debug", fmt="json")
    client_id = await sc.public_client()
    verifier, challenge = pkce()
    answer = await consent(sc, client_id, challenge, login="editor")
    _, tokens = await sc.exchange(client_id, answer["code"], verifier)
    await sc.mcp(tokens["access_token"], "tools/list")
    captured = capsys.readouterr()
    out = captured.out + captured.err
    events = [json.loads(line)["event"] for line in captured.out.splitlines() if line.startswith("{")]
    assert "authorization_granted" in events
    password = demo.site.app_passwords("editor")[-1].password
    for secret in (password, answer["code"], verifier, tokens["access_token"], tokens["refresh_token"]):
        assert secret not in out
