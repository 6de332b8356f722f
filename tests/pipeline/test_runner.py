"""The pipeline runner's bookkeeping: request ids, and no reference cycles per request (a cycle would
keep every request's objects alive until the cyclic GC runs, which costs far more than the request)."""

from __future__ import annotations

import gc
import re

from aiohttp import web
from aiohttp.test_utils import TestServer

from proxy.context import RequestContext
from proxy.pipeline.runner import new_request_id
from tests.factories import make_config
from tests.proxy_harness import running_sidecar


def test_new_request_ids_are_32_hex_unique_and_share_the_process_prefix() -> None:
    ids = [new_request_id() for _ in range(1000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids)
    assert len(set(ids)) == len(ids)
    assert len({value[:16] for value in ids}) == 1


async def test_a_proxied_request_leaves_no_reference_cycle() -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read(), content_type="application/json")

    app = web.Application()
    app.router.add_post("/echo", echo)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with running_sidecar(make_config(str(server.make_url("")).rstrip("/"))) as proxy:

            async def call() -> None:
                async with proxy.http.post(proxy.url + "/echo", data=b'{"a": 1}') as response:
                    assert response.status == 200
                    await response.read()

            await call()  # warm: pools and caches made once are not per-request garbage
            gc.collect()
            gc.disable()
            gc.set_debug(gc.DEBUG_SAVEALL)
            try:
                for _ in range(20):
                    await call()
                gc.collect()
                leaked = [o for o in gc.garbage if isinstance(o, RequestContext | web.BaseRequest)]
            finally:
                gc.set_debug(0)
                gc.garbage.clear()
                gc.enable()
            assert leaked == []
    finally:
        await server.close()
