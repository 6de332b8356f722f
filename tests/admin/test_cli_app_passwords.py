"""`tokens revoke-all` and `clients remove` (child processes) against a sidecar in front of the demo
WordPress: the application passwords users granted through /oauth/authorize are forgotten, deleted at
WordPress where it answers, and reported; the tokens, refresh tokens included, stop working."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from proxy.demo import RunningDemo
from tests.admin.processes import run_cli
from tests.demo_upstream import demo_fixture
from tests.e2e.oauth_support import OAuthSidecar, consent, oauth_sidecar, pkce

pytestmark = pytest.mark.asyncio(loop_scope="module")


demo = demo_fixture()


@pytest_asyncio.fixture(loop_scope="module")
async def sc(demo: RunningDemo, tmp_path: Path) -> AsyncIterator[OAuthSidecar]:
    """The sidecar and the CLI share the config file, so the same SQLite store and secrets."""
    demo.site.reset()
    top = {
        "store": {"backend": "sqlite", "path": str(tmp_path / "sidecar.db")},
        "identity": {"revocation_cache_seconds": 0.1},
    }
    async with oauth_sidecar(demo, top=top, config_dir=tmp_path) as running:
        yield running


async def approved(sc: OAuthSidecar, client_id: str, login: str) -> dict[str, Any]:
    """`login` approves `client_id` at WordPress; the token response."""
    verifier, challenge = pkce()
    answer = await consent(sc, client_id, challenge, login=login)
    status, tokens = await sc.exchange(client_id, answer["code"], verifier)
    assert status == 200, tokens
    return tokens


async def cli(tmp_path: Path, *args: str) -> Any:
    result = await run_cli(tmp_path / "config.yaml", *args, "--format", "json")
    assert result.code == 0, result.stderr
    return result.json()


async def eventually_refused(sc: OAuthSidecar, token: str) -> int:
    """The MCP status for `token` once other processes' revocations have reached this sidecar's cache."""
    deadline = time.monotonic() + 5
    while (status := (await sc.mcp(token, "tools/list"))[0]) == 200 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return status


async def test_revoke_all_forgets_and_deletes_the_granted_passwords(
    sc: OAuthSidecar, demo: RunningDemo, tmp_path: Path
) -> None:
    client_id = await sc.public_client()
    tokens = await approved(sc, client_id, "editor")
    granted = demo.site.app_passwords("editor")[-1]
    assert (await sc.mcp(tokens["access_token"], "tools/list"))[0] == 200
    output = await cli(tmp_path, "tokens", "revoke-all", "--site", "demo")
    assert output == {
        "site": "demo",
        "client_id": None,
        "revoked": "all",
        "app_passwords_forgotten": 1,
        "app_passwords_revoked": 1,
        "app_passwords_not_revoked": [],
    }
    assert granted.uuid not in [password.uuid for password in demo.site.app_passwords("editor")]
    assert await eventually_refused(sc, tokens["access_token"]) == 401
    status, refreshed = await sc.token(
        grant_type="refresh_token", refresh_token=tokens["refresh_token"], client_id=client_id
    )
    assert (status, refreshed["error"]) == (400, "invalid_grant")
    again = await cli(tmp_path, "tokens", "revoke-all", "--site", "demo")
    assert again["app_passwords_forgotten"] == 0  # nothing left to forget


async def test_clients_remove_reports_what_wordpress_did_not_delete(
    sc: OAuthSidecar, demo: RunningDemo, tmp_path: Path
) -> None:
    client_id = await sc.public_client()
    other_client = await sc.public_client()
    editor_tokens = await approved(sc, client_id, "editor")
    await approved(sc, client_id, "admin")
    await approved(sc, other_client, "editor")
    kept = demo.site.app_passwords("editor")[-1]  # the other client's
    # The admin deleted theirs in their WordPress profile already: WordPress cannot delete it again.
    demo.site.users["admin"].delete_app_password(demo.site.app_passwords("admin")[-1].uuid)
    output = await cli(tmp_path, "clients", "remove", client_id)
    assert output == {
        "client_id": client_id,
        "removed": True,
        "app_passwords_forgotten": 2,
        "app_passwords_revoked": 1,
        "app_passwords_not_revoked": ["admin@demo"],
    }
    assert [password.uuid for password in demo.site.app_passwords("editor")][1:] == [kept.uuid]
    assert await eventually_refused(sc, editor_tokens["access_token"]) == 401
    credentials = sc.sidecar.services.credentials
    assert await credentials.granted("demo") == [(other_client, "editor")]


async def test_revoke_all_of_one_client(sc: OAuthSidecar, demo: RunningDemo, tmp_path: Path) -> None:
    client_id, other_client = await sc.public_client(), await sc.public_client()
    tokens = await approved(sc, client_id, "editor")
    other_tokens = await approved(sc, other_client, "editor")
    output = await cli(tmp_path, "tokens", "revoke-all", "--site", "demo", "--client-id", client_id)
    assert (output["app_passwords_forgotten"], output["app_passwords_revoked"]) == (1, 1)
    assert await eventually_refused(sc, tokens["access_token"]) == 401
    assert (await sc.mcp(other_tokens["access_token"], "tools/list"))[0] == 200  # not the whole site
    unknown = await run_cli(
        tmp_path / "config.yaml", "tokens", "revoke-all", "--site", "demo", "--client-id", "x"
    )
    assert (unknown.code, unknown.stderr.strip()) == (2, "mcp-sidecar: no client 'x' on site demo")
