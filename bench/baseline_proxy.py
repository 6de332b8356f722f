"""The baseline: the smallest honest aiohttp forwarding proxy (pooled client, body read, answer copied).

The sidecar is judged against this, measured in the same run on the same machine.
"""

from __future__ import annotations

import argparse

import aiohttp
from aiohttp import web

_SESSION = web.AppKey("session", aiohttp.ClientSession)
_UPSTREAM = web.AppKey("upstream", str)


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    app = web.Application()
    app[_UPSTREAM] = args.upstream

    async def open_session(app: web.Application) -> None:
        app[_SESSION] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))

    async def close_session(app: web.Application) -> None:
        await app[_SESSION].close()

    app.router.add_route("*", "/{tail:.*}", forward)
    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
