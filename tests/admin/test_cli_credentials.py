"""`mcp-sidecar keys|clients|tokens` against a YAML config with the SQLite store, checked on a running
sidecar in front of the demo WordPress: what the CLI issues works, what it revokes stops working, and it
never prints a secret twice."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt
import pytest

from proxy.config import load_config
from proxy.demo import DEMO_MCP_PATH, RunningDemo
from tests.admin.processes import CliResult, config_data, run_cli, write_config
from tests.demo_upstream import demo_fixture
from tests.e2e.authz_support import INITIALIZE_REQUEST
from tests.proxy_harness import RunningSidecar, running_sidecar

pytestmark = pytest.mark.asyncio(loop_scope="module")

ISSUE = ("keys", "issue", "--site", "localhost", "--user", "admin", "--format", "json")


demo = demo_fixture()


def sqlite_config(tmp_path: Path, upstream_url: str) -> Path:
    data = config_data(
        upstream_url,
        top={
            "store": {"backend": "sqlite", "path": "var/sidecar.db"},
            "identity": {"last_used_flush_seconds": 0.1, "revocation_cache_seconds": 0.1},
        },
    )
    return write_config(tmp_path / "sidecar.yaml", data)


@pytest.fixture
def config(tmp_path: Path, demo: RunningDemo) -> Path:
    return sqlite_config(tmp_path, demo.url)


def ok(result: CliResult) -> Any:
    assert result.code == 0, result.stderr
    return result.json()


def one_line_error(result: CliResult) -> str:
    """A refused command: exit 2 and exactly one line on stderr, nothing on stdout."""
    assert result.code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mcp-sidecar: ")
    return lines[0]


async def mcp_status(sidecar: RunningSidecar, headers: dict[str, str]) -> int:
    headers = {**headers, "Accept": "application/json, text/event-stream"}
    async with sidecar.http.post(
        sidecar.url + DEMO_MCP_PATH, json=INITIALIZE_REQUEST, headers=headers
    ) as response:
        return response.status


def sidecar_on(config: Path) -> Any:
    return running_sidecar(load_config(config), config_path=config)


async def wait_for_last_used(sidecar: RunningSidecar, key_id: str) -> None:
    """Until the sidecar's flush (every identity.last_used_flush_seconds) has written the key's use."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        record = await sidecar.sidecar.services.store.get_key(key_id)
        if record is not None and record.last_used_at is not None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("last_used was never flushed")


async def test_key_lifecycle_across_restarts(config: Path) -> None:
    """issue -> works -> listed with last_used and no secret -> survives a restart -> revoke, revoke-all."""
    first, second = await asyncio.gather(
        run_cli(config, *ISSUE, "--label", "ci", "--scopes", "mcp.read content.read"),
        run_cli(config, *ISSUE, "--ttl-hours", "0"),
    )
    one, two = ok(first), ok(second)
    assert one["key"].startswith("wpmcp_")
    assert one["id"].startswith("key_")
    assert (one["site"], one["user"], one["label"]) == ("demo", "admin", "ci")
    assert one["scopes"] == ["mcp.read", "content.read"]
    assert one["last_used"] is None
    assert one["expires"] is not None
    assert two["expires"] is None  # TTL 0: never expires
    keys = {"X-API-Key": one["key"]}, {"X-API-Key": two["key"]}
    before = time.time()
    async with sidecar_on(config) as sidecar:
        assert [await mcp_status(sidecar, headers) for headers in keys] == [200, 200]
        await wait_for_last_used(sidecar, one["id"])
        record = await sidecar.sidecar.services.store.get_key(one["id"])
        assert record is not None
        listed = await run_cli(config, "keys", "list", "--site", "127.0.0.1", "--format", "json")
    rows = {row["id"]: row for row in ok(listed)}
    assert set(rows) == {one["id"], two["id"]}
    assert all("key" not in row for row in rows.values())
    for secret in (one["key"], two["key"], record.key_hash, "wpmcp_"):
        assert secret not in listed.stdout
    used = datetime.fromisoformat(rows[one["id"]]["last_used"]).timestamp()
    assert before - 1 <= used <= time.time()

    async with sidecar_on(config) as sidecar:  # a restart: SQLite kept everything
        assert [await mcp_status(sidecar, headers) for headers in keys] == [200, 200]
        revoked = await run_cli(config, "keys", "revoke", one["id"], "--format", "json")
        assert ok(revoked) == {"id": one["id"], "revoked": True}
        assert [await mcp_status(sidecar, headers) for headers in keys] == [401, 200]
        revoked = await run_cli(config, "keys", "revoke-all", "--site", "demo", "--format", "json")
        assert ok(revoked) == {"site": "demo", "revoked": 1}
        assert [await mcp_status(sidecar, headers) for headers in keys] == [401, 401]


async def test_clients_and_tokens(config: Path) -> None:
    added = ok(
        await run_cli(
            config, "clients", "add", "--site", "demo", "--name", "ci", "--user", "editor", "--format", "json"
        )
    )
    client_id, secret = added["client_id"], added["client_secret"]
    assert client_id.startswith("mcpc_")
    assert len(secret) >= 43
    listed, minted = await asyncio.gather(
        run_cli(config, "clients", "list", "--site", "demo", "--format", "json"),
        run_cli(
            config,
            "tokens",
            "issue",
            "--site",
            "localhost",
            "--client-id",
            client_id,
            f"--client-secret={secret}",  # a secret may start with '-'
            "--scopes",
            "mcp.read",
            "--format",
            "json",
        ),
    )
    rows = ok(listed)
    assert [row["client_id"] for row in rows] == [client_id]
    assert secret not in listed.stdout
    token = ok(minted)
    assert (token["token_type"], token["scope"], token["expires_in"]) == ("Bearer", "mcp.read", 3600)
    async with sidecar_on(config) as sidecar:
        # The token verifies against the keys the running sidecar publishes, and works on MCP.
        async with sidecar.http.get(sidecar.url + "/.well-known/jwks.json") as response:
            jwks = jwt.PyJWKSet.from_dict(json.loads(await response.read()))
        kid = jwt.get_unverified_header(token["access_token"])["kid"]
        claims = jwt.decode(
            token["access_token"], jwks[kid].key, algorithms=["ES256"], audience=token["audience"]
        )
        assert (claims["client_id"], claims["jti"]) == (client_id, token["jti"])
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        assert await mcp_status(sidecar, bearer) == 200
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        async with sidecar.http.post(sidecar.url + "/oauth/token", data=form) as response:
            assert response.status == 200

        removed = await run_cli(config, "clients", "remove", client_id, "--format", "json")
        assert ok(removed) == {
            "client_id": client_id,
            "removed": True,
            "app_passwords_forgotten": 0,  # a client_credentials client acts with configured passwords
            "app_passwords_revoked": 0,
            "app_passwords_not_revoked": [],
        }
        async with sidecar.http.post(sidecar.url + "/oauth/token", data=form) as response:
            assert response.status == 401
            assert (await response.json())["error"] == "invalid_client"
        deadline = time.monotonic() + 5  # its tokens die within identity.revocation_cache_seconds
        while await mcp_status(sidecar, bearer) != 401 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert await mcp_status(sidecar, bearer) == 401


async def test_bad_arguments_exit_2_with_one_line_in_a_child_process(config: Path) -> None:
    unknown_site, bad_ttl = await asyncio.gather(
        run_cli(config, "keys", "issue", "--site", "nowhere.example", "--user", "admin"),
        run_cli(config, "keys", "issue", "--site", "demo", "--user", "admin", "--ttl-hours", "200"),
    )
    assert one_line_error(unknown_site) == (
        "mcp-sidecar: unknown site 'nowhere.example'; configured: demo (localhost 127.0.0.1)"
    )
    assert "must be a whole number of hours from 1 to 168, or 0 for never expires; got 200" in one_line_error(
        bad_ttl
    )
