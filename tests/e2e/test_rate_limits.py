"""Rate limits over real sockets: headers exact at the boundary, refusals in the route's dialect, the
upstream untouched by a refused request, per-tool / per-ability / per-toolset / per-command limits,
batches, the anonymous tier behind trusted proxies, decision metrics and result-size caps by tier."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from proxy.demo import DEMO_MCP_PATH, RunningDemo, start_demo_upstream
from tests.e2e.ratelimit_support import (
    ALL_SCOPES,
    COMMANDS_ALLOWLIST,
    COMMANDS_PATH,
    INITIALIZE,
    PROTOCOL,
    SITE_USERS,
    Reply,
    call_tool,
    counted_down,
    execute_ability,
    metric_value,
    post_json,
    recording_upstream,
    rules_with_extras,
)
from tests.factories import make_config
from tests.proxy_harness import RunningSidecar, running_sidecar

DISCOVER = "mcp-adapter-discover-abilities"
INFO = "mcp-adapter-get-ability-info"
DECISIONS = "mcp_sidecar_ratelimit_decisions_total"
LIMIT_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit-Policy",
    "RateLimit",
)
ANONYMOUS = {"enabled": True, "wp_user": "subscriber"}


@pytest.fixture
async def demo() -> AsyncIterator[RunningDemo]:
    running = await start_demo_upstream()
    yield running
    await running.close()


@asynccontextmanager
async def sidecar(
    upstream_url: str, *, top: dict[str, Any] | None = None, **site: Any
) -> AsyncIterator[RunningSidecar]:
    async with running_sidecar(make_config(upstream_url, top=top, users=SITE_USERS, **site)) as sc:
        yield sc


async def api_key(sc: RunningSidecar, user: str = "admin") -> dict[str, str]:
    issued = await sc.sidecar.services.identity.keys.issue("demo", user, label="rl", scopes=ALL_SCOPES)
    return {"X-API-Key": issued.raw}


async def open_session(sc: RunningSidecar, auth: dict[str, str]) -> dict[str, str]:
    """Initialize over MCP (spends one request); the headers of later calls in that session."""
    reply = await post_json(sc.http, sc.url + DEMO_MCP_PATH, INITIALIZE, auth)
    assert reply.status == 200, reply.body
    return {**auth, "Mcp-Session-Id": reply.headers["Mcp-Session-Id"], "MCP-Protocol-Version": PROTOCOL}


async def mcp(sc: RunningSidecar, payload: Any, headers: dict[str, str]) -> Reply:
    return await post_json(sc.http, sc.url + DEMO_MCP_PATH, payload, headers)


def limit_headers(reply: Reply) -> dict[str, str]:
    return {name: reply.headers[name] for name in LIMIT_HEADERS if name in reply.headers}


async def decisions(sc: RunningSidecar, tier: str, outcome: str) -> float:
    return metric_value(await sc.metrics_text(), DECISIONS, site="demo", tier=tier, outcome=outcome)


async def test_headers_exact_at_the_boundary_then_429_in_json_rpc(demo: RunningDemo) -> None:
    async with sidecar(demo.url, rate_limits={"authenticated": {"requests": 3, "per_seconds": 60}}) as sc:
        auth = await api_key(sc)
        started = time.monotonic()
        first = await mcp(sc, INITIALIZE, auth)
        assert first.status == 200
        assert limit_headers(first) == {
            "X-RateLimit-Limit": "3",
            "X-RateLimit-Remaining": "2",
            "X-RateLimit-Reset": "20",  # one request every 20 s: its slot is back in 20 s
            "RateLimit-Policy": '"authenticated";q=3;w=60',
            "RateLimit": '"authenticated";r=2;t=20',
        }
        session = {
            **auth,
            "Mcp-Session-Id": first.headers["Mcp-Session-Id"],
            "MCP-Protocol-Version": PROTOCOL,
        }
        second = await mcp(sc, call_tool(DISCOVER), session)
        third = await mcp(sc, call_tool(DISCOVER), session)
        assert (second.status, third.status) == (200, 200)
        assert "error" not in third.body
        assert [reply.headers["X-RateLimit-Remaining"] for reply in (second, third)] == ["1", "0"]
        assert counted_down(second.headers["X-RateLimit-Reset"], 40, started)
        assert counted_down(third.headers["X-RateLimit-Reset"], 60, started)

        reached = len(demo.site.requests)
        fourth = await mcp(sc, call_tool(DISCOVER, id=44), session)
        assert fourth.status == 429
        retry_after = int(fourth.headers["Retry-After"])
        assert counted_down(str(retry_after), 20, started)  # the next slot, not the whole window
        assert counted_down(fourth.headers["X-RateLimit-Reset"], 60, started)
        assert {name: fourth.headers[name] for name in LIMIT_HEADERS if "Reset" not in name} == {
            "X-RateLimit-Limit": "3",
            "X-RateLimit-Remaining": "0",
            "RateLimit-Policy": '"authenticated";q=3;w=60',
            "RateLimit": f'"authenticated";r=0;t={retry_after}',  # a refusing limit's t is the wait
        }
        assert fourth.body == {
            "jsonrpc": "2.0",
            "id": 44,
            "error": {
                "code": -32029,
                "message": f"rate limit 'authenticated' exceeded; retry in {retry_after} s",
                "data": {
                    "code": "rate_limited",
                    "request_id": fourth.headers["X-Request-Id"],
                    "policy": "authenticated",
                    "retry_after": retry_after,
                },
            },
        }
        assert len(demo.site.requests) == reached  # WordPress never saw the refused request
        assert demo.site.calls["tools/call"] == 2
        assert await decisions(sc, "authenticated", "allowed") == 3
        assert await decisions(sc, "authenticated", "limited") == 1


async def test_waiting_retry_after_is_enough(demo: RunningDemo) -> None:
    async with sidecar(demo.url, rate_limits={"authenticated": {"requests": 2, "per_seconds": 2}}) as sc:
        auth = await api_key(sc)
        replies = [await mcp(sc, INITIALIZE, auth) for _ in range(4)]
        refused = next(reply for reply in replies if reply.status == 429)
        wait = int(refused.headers["Retry-After"])
        assert wait == 1  # one request per second, rounded up: never 0, never the whole window
        await asyncio.sleep(wait)
        assert (await mcp(sc, INITIALIZE, auth)).status == 200


async def test_command_api_refusal_is_its_envelope_and_never_forwarded(tmp_path: Path) -> None:
    rules = rules_with_extras(
        tmp_path, commands={"search": {"scope": "content.read", "writes": False, "toolsets": ["read-only"]}}
    )
    async with (
        recording_upstream() as (upstream, url),
        sidecar(
            url,
            top={"rules": rules},
            allowlist=COMMANDS_ALLOWLIST,
            rate_limits={"commands": {"search": {"requests": 2, "per_seconds": 60}}},
        ) as sc,
    ):
        auth = await api_key(sc)
        started = time.monotonic()
        replies = [
            await post_json(
                sc.http, sc.url + COMMANDS_PATH, {"command": "search", "requestId": f"r{n}"}, auth
            )
            for n in range(3)
        ]
        assert [reply.status for reply in replies] == [200, 200, 429]
        assert replies[0].body["success"] is True
        assert limit_headers(replies[1])["RateLimit-Policy"] == (
            '"command:search";q=2;w=60, "authenticated";q=60;w=60'
        )
        refused = replies[2]
        retry_after = int(refused.headers["Retry-After"])
        assert counted_down(str(retry_after), 30, started)  # 2 per minute: the next slot in 30 s
        assert refused.body == {
            "success": False,
            "error": {
                "code": "rate_limited",
                "message": f"rate limit 'command:search' exceeded; retry in {retry_after} s",
                "policy": "command:search",
                "retry_after": retry_after,
            },
            "requestId": "r2",
            "data": None,
        }
        assert [body["requestId"] for body in upstream.command_bodies] == ["r0", "r1"]


async def test_per_tool_and_per_ability_limits(demo: RunningDemo) -> None:
    rate_limits = {
        "tools": {
            "demo/get-post": {"requests": 1, "per_seconds": 60},
            DISCOVER: {"requests": 1, "per_seconds": 60},
        }
    }
    async with sidecar(demo.url, rate_limits=rate_limits) as sc:
        alice, bob = await api_key(sc), await api_key(sc)
        session = await open_session(sc, alice)
        started = time.monotonic()
        run = await mcp(sc, execute_ability("demo/get-post", {"id": 1}), session)
        assert run.status == 200
        assert "error" not in run.body
        assert limit_headers(run)["X-RateLimit-Limit"] == "1"  # the strictest limit speaks
        assert (
            limit_headers(run)["RateLimit-Policy"]
            == '"tool:demo/get-post";q=1;w=60, "authenticated";q=60;w=60'
        )

        again = await mcp(sc, execute_ability("demo/get-post", {"id": 2}, id=7), session)
        assert again.status == 429
        assert again.body["error"]["data"]["policy"] == "tool:demo/get-post"
        assert counted_down(again.headers["Retry-After"], 60, started)
        # looking the ability up does not run it: only the meta-tool's own limits apply
        assert (await mcp(sc, call_tool(INFO, {"ability_name": "demo/get-post"}), session)).status == 200
        assert (await mcp(sc, call_tool(DISCOVER), session)).status == 200
        assert (await mcp(sc, call_tool(DISCOVER), session)).body["error"]["data"][
            "policy"
        ] == f"tool:{DISCOVER}"
        assert demo.site.ability_runs["demo/get-post"] == 1

        # limits are per principal: another key has its own allowance
        other = await open_session(sc, bob)
        assert (await mcp(sc, execute_ability("demo/get-post", {"id": 1}), other)).status == 200
        assert demo.site.ability_runs["demo/get-post"] == 2


async def test_toolset_limit_applies_to_the_toolset_a_tool_is_most_specific_to(tmp_path: Path) -> None:
    async with (
        recording_upstream() as (upstream, url),
        sidecar(url, rate_limits={"toolsets": {"content": {"requests": 1, "per_seconds": 60}}}) as sc,
    ):
        auth = await api_key(sc)
        create = execute_ability("demo/create-post", {"title": "t", "content": "c"})
        assert (await mcp(sc, create, auth)).status == 200
        refused = await mcp(sc, create, auth)
        assert (refused.status, refused.body["error"]["data"]["policy"]) == (429, "toolset:content")
        # get-post is in `content` too (content extends read-only), but read-only is its own toolset
        reads = [await mcp(sc, execute_ability("demo/get-post", {"id": 1}), auth) for _ in range(3)]
        assert [reply.status for reply in reads] == [200] * 3
        assert "toolset:" not in limit_headers(reads[0])["RateLimit-Policy"]
        assert len(upstream.mcp_bodies) == 4


async def test_a_batch_spends_per_message_and_per_call(tmp_path: Path) -> None:
    async with (
        recording_upstream() as (upstream, url),
        sidecar(
            url,
            rate_limits={
                "authenticated": {"requests": 6, "per_seconds": 60},
                "tools": {"demo/get-post": {"requests": 2, "per_seconds": 60}},
            },
        ) as sc,
    ):
        auth = await api_key(sc)
        reads = [execute_ability("demo/get-post", {"id": 1}) for _ in range(2)]
        ok = await mcp(sc, [*reads, call_tool(DISCOVER)], auth)
        assert ok.status == 200
        assert len(ok.body) == 3
        assert limit_headers(ok)["RateLimit"] == '"tool:demo/get-post";r=0;t=60, "authenticated";r=3;t=30'
        # the per-ability limit is spent: a batch hiding a third run behind another call is refused whole
        hidden = await mcp(sc, [call_tool(DISCOVER), execute_ability("demo/get-post", {"id": 1})], auth)
        assert hidden.status == 429
        assert hidden.body["error"]["data"]["policy"] == "tool:demo/get-post"
        # more calls than the tier's whole burst can never fit: a 400, not a wait
        too_big = await mcp(sc, [call_tool(DISCOVER) for _ in range(7)], auth)
        assert too_big.status == 400
        assert "Retry-After" not in too_big.headers
        assert too_big.body["error"]["data"] == {
            "code": "batch_exceeds_rate_limit",
            "request_id": too_big.headers["X-Request-Id"],
            "policy": "authenticated",
            "limit": 6,
        }
        assert len(upstream.mcp_bodies) == 1
        assert await decisions(sc, "authenticated", "too_large") == 1


async def test_xff_is_believed_from_a_trusted_proxy(demo: RunningDemo) -> None:
    rate_limits = {"anonymous": {"requests": 2, "per_seconds": 60}, "trusted_proxies": ["127.0.0.1/32"]}
    async with sidecar(demo.url, anonymous=ANONYMOUS, rate_limits=rate_limits) as sc:

        async def init(forwarded_for: str) -> int:
            return (await mcp(sc, INITIALIZE, {"X-Forwarded-For": forwarded_for})).status

        assert [await init("203.0.113.5") for _ in range(3)] == [200, 200, 429]
        assert await init("203.0.113.6") == 200  # another client behind the proxy: its own bucket
        # a client prepending an address of its choosing is still known by what our proxy appended
        assert await init("198.51.100.1, 203.0.113.5") == 429
        assert await decisions(sc, "anonymous", "limited") == 2
        assert demo.site.calls["initialize"] == 3


async def test_spoofed_xff_from_an_untrusted_peer_is_ignored(demo: RunningDemo) -> None:
    rate_limits = {"anonymous": {"requests": 2, "per_seconds": 60}, "trusted_proxies": ["10.0.0.0/8"]}
    async with sidecar(demo.url, anonymous=ANONYMOUS, rate_limits=rate_limits) as sc:
        statuses = [
            (await mcp(sc, INITIALIZE, {"X-Forwarded-For": spoofed})).status
            for spoofed in ("203.0.113.5", "203.0.113.6", "203.0.113.7")
        ]
        assert statuses == [200, 200, 429]  # one bucket: the socket peer's
        # credentials put a caller in the authenticated tier, whatever its address
        assert (await mcp(sc, INITIALIZE, await api_key(sc))).status == 200
        assert await decisions(sc, "anonymous", "allowed") == 2
        assert await decisions(sc, "authenticated", "allowed") == 1


async def test_result_caps_follow_the_tier(tmp_path: Path) -> None:
    capped = {
        "capability": "read",
        "scope": "content.read",
        "writes": False,
        "result_caps": {"limit": {"anonymous": 10, "authenticated": 100}},
    }
    rules = rules_with_extras(tmp_path, abilities={"acme/search-posts": capped})
    async with (
        recording_upstream() as (upstream, url),
        sidecar(url, top={"rules": rules}, anonymous=ANONYMOUS) as sc,
    ):
        auth = await api_key(sc)
        for headers, wanted in (({}, 500), (auth, 500), (auth, 50)):
            reply = await mcp(sc, execute_ability("acme/search-posts", {"limit": wanted, "q": "x"}), headers)
            assert reply.status == 200, reply.body
        received = [body["params"]["arguments"]["parameters"] for body in upstream.mcp_bodies]
        assert received == [{"limit": 10, "q": "x"}, {"limit": 100, "q": "x"}, {"limit": 50, "q": "x"}]


async def test_responses_refused_after_the_limiter_carry_its_headers_too() -> None:
    async with (
        recording_upstream() as (upstream, url),
        sidecar(url, rate_limits={"authenticated": {"requests": 5, "per_seconds": 60}}) as sc,
    ):
        auth = await api_key(sc, "subscriber")
        denied = await mcp(sc, execute_ability("demo/update-settings", {"title": "x"}), auth)
        assert denied.status == 403  # a subscriber lacks manage_options: WordPress's own rule
        assert limit_headers(denied)["X-RateLimit-Remaining"] == "4"
        assert limit_headers(denied)["RateLimit"] == '"authenticated";r=4;t=12'
        assert upstream.mcp_bodies == []
