"""The baselines the sidecar is judged against, measured in the same run on the same machine.

- minimal (default): the smallest honest aiohttp forwarding proxy (pooled client, body read, answer
  copied, only `Content-Type` forwarded either way, no logging).
- `--required-work`: the same, plus only what issue 3 requires of every proxied request, done with the
  sidecar's own code: hop-by-hop fields stripped both ways, X-Forwarded-*/Forwarded set, a JSON access
  line through structlog, the request counter and duration histogram. No policy pipeline. The gap
  between the two baselines is the floor of that required work; the gap between this one and the
  sidecar is what the pipeline costs.
"""

from __future__ import annotations

import argparse
import time

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from proxy.headers import strip_hop_by_hop
from proxy.observe import Metrics, configure_logging, get_logger
from proxy.upstream import forwarded_headers

_SESSION = web.AppKey("session", aiohttp.ClientSession)
_UPSTREAM = web.AppKey("upstream", str)
_METRICS = web.AppKey("metrics", Metrics)

log = get_logger("bench.baseline")


async def forward(request: web.Request) -> web.Response:
    session = request.app[_SESSION]
    body = await request.read()
    async with session.request(
        request.method,
        request.app[_UPSTREAM] + request.rel_url.raw_path_qs,
        data=body,
        headers={"Content-Type": request.content_type},
    ) as upstream:
        payload = await upstream.read()
        return web.Response(
            body=payload,
            status=upstream.status,
            headers={"Content-Type": upstream.headers.get("Content-Type", "")},
        )


async def forward_with_required_work(request: web.Request) -> web.Response:
    started = time.perf_counter()
    session = request.app[_SESSION]
    body = await request.read()
    headers = strip_hop_by_hop(request.headers, drop=("host", "content-length"))
    headers.update(forwarded_headers(request))
    async with session.request(
        request.method, request.app[_UPSTREAM] + request.rel_url.raw_path_qs, data=body, headers=headers
    ) as upstream:
        payload = await upstream.read()
        answer_headers: CIMultiDict[str] = strip_hop_by_hop(upstream.headers, drop=("content-length",))
        response = web.Response(body=payload, status=upstream.status, headers=answer_headers)
    duration = time.perf_counter() - started
    metrics = request.app[_METRICS]
    metrics.requests.labels("passthrough", response.status).inc()
    metrics.request_duration.labels("passthrough").observe(duration)
    log.info(
        "request",
        method=request.method,
        path=request.rel_url.raw_path,
        status=response.status,
        bytes=len(payload),
        duration_ms=round(duration * 1000, 3),
    )
    return response


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--required-work", action="store_true", help="see the module doc")
    args = parser.parse_args()
    app = web.Application()
    app[_UPSTREAM] = args.upstream
    handler = forward
    if args.required_work:
        configure_logging(level="info", fmt="json", cache_loggers=True)
        app[_METRICS] = Metrics()
        handler = forward_with_required_work

    async def open_session(app: web.Application) -> None:
        # as the sidecar's: bytes pass through as encoded, no client-side headers added
        app[_SESSION] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100),
            auto_decompress=not args.required_work,
            skip_auto_headers=("User-Agent", "Accept-Encoding") if args.required_work else (),
        )

    async def close_session(app: web.Application) -> None:
        await app[_SESSION].close()

    app.router.add_route("*", "/{tail:.*}", handler)
    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
