"""The call log: every tool call, allowed or refused, is recorded against the principal and WordPress
user that made it; records still being written when the sidecar stops are kept; a record the store
refuses is logged in full instead."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from proxy.app import build_sidecar
from proxy.demo import DEMO_MCP_PATH, RunningDemo, start_demo_upstream
from proxy.observe import configure_logging
from proxy.stores.base import StoreUnavailable
from proxy.stores.memory import MemoryStore
from proxy.stores.records import AuditRecord
from tests.e2e.authz_support import SITE_USERS, Agent
from tests.factories import make_config

SCOPES = ["mcp.read", "content.read", "content.write"]


class RefusingAuditStore(MemoryStore):
    """A store whose call log is down: everything else works."""

    async def append_audit(self, record: AuditRecord) -> None:
        raise StoreUnavailable("call log down")


@pytest.fixture
async def demo() -> AsyncIterator[RunningDemo]:
    running = await start_demo_upstream()
    yield running
    await running.close()


async def _two_calls(demo: RunningDemo, store: MemoryStore) -> tuple[int, int]:
    """An allowed and a refused call by the subscriber; the sidecar is stopped before returning."""
    sidecar = build_sidecar(make_config(demo.url, users=SITE_USERS), store=store)
    server = TestServer(sidecar.public, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        key = (
            await sidecar.services.identity.keys.issue("demo", "subscriber", label="log", scopes=SCOPES)
        ).raw
        async with aiohttp.ClientSession() as http:
            agent = Agent(http, str(server.make_url(DEMO_MCP_PATH)), {"X-API-Key": key})
            await agent.initialize()
            allowed = await agent.execute("demo/get-post", {"id": 1})
            refused = await agent.execute("demo/create-post", {"title": "t", "content": "c"})
        return allowed.status, refused.status
    finally:
        await server.close()  # drains the records still being written, then closes the store


async def test_allowed_and_refused_calls_are_recorded_even_at_shutdown(demo: RunningDemo) -> None:
    store = MemoryStore()
    assert await _two_calls(demo, store) == (200, 403)
    records = {record.ability: record for record in await store.list_audit("demo")}
    assert set(records) == {"demo/get-post", "demo/create-post"}
    allowed, refused = records["demo/get-post"], records["demo/create-post"]
    assert (allowed.decision, allowed.reason, allowed.status, allowed.wp_user, allowed.principal_kind) == (
        "allowed",
        "ok",
        200,
        "subscriber",
        "api_key",
    )
    assert allowed.tool == refused.tool == "mcp-adapter-execute-ability"
    assert (refused.decision, refused.reason, refused.status) == ("denied", "insufficient_capability", 403)
    assert allowed.principal_id == refused.principal_id
    assert demo.site.ability_runs["demo/create-post"] == 0


async def test_a_refused_record_is_logged_in_full(
    demo: RunningDemo, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(level="info", fmt="json")
    assert await _two_calls(demo, RefusingAuditStore()) == (200, 403)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    fallback = [line["record"] for line in lines if line.get("event") == "audit_fallback"]
    assert {(record["ability"], record["decision"]) for record in fallback} == {
        ("demo/get-post", "allowed"),
        ("demo/create-post", "denied"),
    }
