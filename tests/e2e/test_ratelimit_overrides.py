"""Precedence of rate limits, end to end: a runtime override set with `mcp-sidecar limits set` (stored,
and picked up by the running sidecar within settings_poll_seconds) beats the config, which beats the
built-in defaults; `limits set default` gives the config back; a misspelt override is refused."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from proxy.config import Config
from proxy.demo import DEMO_MCP_PATH
from tests.admin.processes import config_data, run_cli, write_config
from tests.e2e.ratelimit_support import ALL_SCOPES, Reply, execute_ability, post_json, recording_upstream
from tests.proxy_harness import RunningSidecar, running_sidecar

GET_POST = "demo/get-post"
CONFIGURED = '"tool:demo/get-post";q=5;w=60, "authenticated";q=50;w=60'


async def until_override(sc: RunningSidecar, *, present: bool) -> None:
    """Wait for the sidecar's own poll of the store to see the override come or go."""
    deadline = time.monotonic() + 5
    while (sc.sidecar.services.switches.rate_overrides("demo") is not None) != present:
        assert time.monotonic() < deadline, "the sidecar never picked up the override"
        await asyncio.sleep(0.02)


async def test_runtime_override_beats_config_beats_defaults(tmp_path: Path) -> None:
    async with recording_upstream() as (_upstream, upstream_url):
        data = config_data(
            upstream_url,
            top={
                "store": {"backend": "sqlite", "path": str(tmp_path / "store.db")},
                "settings_poll_seconds": 0.1,
            },
            rate_limits={
                "authenticated": {"requests": 50, "per_seconds": 60},
                "tools": {GET_POST: {"requests": 5, "per_seconds": 60}},
            },
        )
        path = write_config(tmp_path / "sidecar.yaml", data)
        async with running_sidecar(Config.model_validate(data), config_path=path) as sc:

            async def run_get_post(times: int) -> list[Reply]:
                """Run demo/get-post `times` times with a key of its own (an allowance never used)."""
                keys = sc.sidecar.services.identity.keys
                auth = {"X-API-Key": (await keys.issue("demo", "admin", label="k", scopes=ALL_SCOPES)).raw}
                call = execute_ability(GET_POST, {"id": 1})
                return [await post_json(sc.http, sc.url + DEMO_MCP_PATH, call, auth) for _ in range(times)]

            # the config's limits, not the built-in 60 per minute (and no tool limit at all)
            (configured,) = await run_get_post(1)
            assert configured.headers["RateLimit-Policy"] == CONFIGURED

            typo = {"authenticted": {"requests": 2, "per_seconds": 60}}
            result = await run_cli(path, "limits", "set", "--site", "demo", json.dumps(typo))
            assert result.code == 2  # refused before it is stored: replicas would ignore it
            assert "authenticted: unknown key" in result.stderr

            override = {"authenticated": {"requests": 2, "per_seconds": 60}}
            result = await run_cli(path, "limits", "set", "--site", "demo", json.dumps(override))
            assert result.code == 0, result.stderr
            await until_override(sc, present=True)
            replies = await run_get_post(3)
            assert [reply.status for reply in replies] == [200, 200, 429]
            # the override replaced the tier limit; the config's tool limit (not overridden) still holds
            assert replies[0].headers["RateLimit-Policy"] == (
                '"authenticated";q=2;w=60, "tool:demo/get-post";q=5;w=60'
            )
            assert replies[2].body["error"]["data"]["policy"] == "authenticated"

            result = await run_cli(path, "limits", "set", "--site", "demo", "default")
            assert result.code == 0, result.stderr
            await until_override(sc, present=False)
            (restored,) = await run_get_post(1)
            assert restored.headers["RateLimit-Policy"] == CONFIGURED
