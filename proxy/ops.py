"""The ops listener: liveness, readiness and Prometheus metrics, never on the public port."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from proxy.runtime import ReloadResult
from proxy.services import SERVICES_KEY, Services

__all__ = ["RELOAD_KEY", "build_ops_app"]

RELOAD_KEY: web.AppKey[Callable[[], ReloadResult]] = web.AppKey("sidecar_reload")

_PROBE_TIMEOUT = aiohttp.ClientTimeout(total=2)


async def healthz(request: web.Request) -> web.Response:
    """Alive: the event loop answers. Says nothing about WordPress or the store."""
    return web.json_response({"status": "ok"})


async def _probe_upstream(session: aiohttp.ClientSession, url: str, host: str | None) -> str | None:
    """`host`: the Host to ask with (the site's, like every call the sidecar makes), None for the URL's."""
    headers = {"Host": host} if host is not None else {}
    try:
        async with session.get(
            url, timeout=_PROBE_TIMEOUT, allow_redirects=False, headers=headers
        ) as response:
            return None if response.status < 500 else f"status {response.status}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__


async def readyz(request: web.Request) -> web.Response:
    """Ready: every site's WordPress answers and the store answers. 503 names what is down."""
    services = request.app[SERVICES_KEY]
    problems = await _readiness_problems(services)
    status = 503 if problems else 200
    return web.json_response(
        {"status": "unavailable" if problems else "ready", "problems": problems}, status=status
    )


async def _readiness_problems(services: Services) -> dict[str, str]:
    runtime = services.holder.current
    checks: dict[str, asyncio.Future[str | None]] = {}
    for site in runtime.sites:
        session = services.forwarder.session_for(
            site.upstream_url,
            connect=site.settings.upstream.timeouts.connect,
            max_connections=site.settings.upstream.max_connections,
        )
        checks[f"upstream:{site.name}"] = asyncio.ensure_future(
            _probe_upstream(session, site.rest_index_url, site.upstream_host)
        )
    for extra_name, extra_check in services.readiness_checks().items():
        checks[extra_name] = asyncio.ensure_future(extra_check)
    results = await asyncio.gather(*checks.values())
    return {name: problem for name, problem in zip(checks, results, strict=True) if problem}


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[SERVICES_KEY].metrics.registry
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def reload(request: web.Request) -> web.Response:
    """Reload config and rules (like SIGHUP); 409 with the problems when the new files are invalid and
    the old ones stay."""
    result = request.app[RELOAD_KEY]()
    if result.ok:
        return web.json_response({"status": "reloaded", "restart_required": list(result.restart_required)})
    return web.json_response({"status": "rejected", "problems": list(result.problems)}, status=409)


def build_ops_app(services: Services) -> web.Application:
    app = web.Application()
    app[SERVICES_KEY] = services
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/admin/reload", reload)
    return app
