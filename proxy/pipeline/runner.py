"""Runs the stages for every request, renders refusals, and writes the access log and metrics.

This is the hot path of every proxied request, so the bookkeeping is kept cheap: request ids need no
system call, metric children are looked up once (proxy.observe), a task is only spawned for the
call log when the request made tool calls, and nothing makes reference cycles (the context is never
stored on the aiohttp request): a request's objects are freed at once, not left for the cyclic GC.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import secrets
from collections.abc import Sequence

from aiohttp import web

from proxy.context import RequestContext
from proxy.errors import SidecarError
from proxy.headers import REQUEST_ID
from proxy.observe import Metrics, get_logger
from proxy.pipeline.base import Stage
from proxy.render import render_error
from proxy.runtime import RuntimeHolder

__all__ = ["Pipeline", "new_request_id", "request_id_for"]

log = get_logger("proxy.access")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
# Request ids are correlation handles, not secrets: a random per-process prefix keeps them unique
# across replicas and restarts, a counter keeps them unique here, without reading the OS random
# source on every request as uuid4 does.
_ID_PREFIX = secrets.token_hex(8)
_ID_COUNTER = itertools.count()


def new_request_id() -> str:
    """32 hex characters, unique across processes (random prefix) and within one (counter)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


def request_id_for(request: web.Request) -> str:
    """The client's X-Request-Id when it is well-formed (so traces join up), else a new one."""
    given = request.headers.get(REQUEST_ID)
    return given if given is not None and _REQUEST_ID.fullmatch(given) else new_request_id()


class Pipeline:
    """The ordered stages; the last one (forward) always answers.

    `recorders` write the call log: they run for requests that made tool calls or commands
    (`ctx.calls`), once the answer is sent, in a task of their own so neither a client that goes away
    nor the next request on the connection waits for or cuts a record; `drain()` ends them.
    """

    def __init__(
        self,
        *,
        holder: RuntimeHolder,
        stages: Sequence[Stage],
        metrics: Metrics,
        recorders: Sequence[Stage] = (),
    ) -> None:
        self._holder = holder
        self._stages = tuple(stages)
        self._recorders = tuple(recorders)
        self._metrics = metrics
        # A plain counter read at scrape time: no lock taken twice per request.
        self._in_flight = 0
        metrics.in_flight.set_function(lambda: self._in_flight)
        self._pending: set[asyncio.Task[None]] = set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ctx = RequestContext(
            request=request, runtime=self._holder.current, request_id=request_id_for(request)
        )
        self._in_flight += 1
        try:
            response = await self._run(ctx)
            ctx.status = response.status
            if ctx.calls and self._recorders:
                await self._send(request, response)
            return response
        except asyncio.CancelledError:
            ctx.status, ctx.code = 499, "client_closed_request"
            raise
        finally:
            self._in_flight -= 1
            if ctx.calls and self._recorders:
                # Written in the background: the client has its answer and the connection is free for
                # the next request; `drain()` waits for every record before the store closes.
                task = asyncio.get_running_loop().create_task(self._record(ctx))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)
            else:
                self._account(ctx)

    async def drain(self) -> None:
        """Wait for every call-log record still being written (at shutdown, before the store closes)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    @staticmethod
    async def _send(request: web.Request, response: web.StreamResponse) -> None:
        """Send the answer now, so the call log is written after the client has it, not before.

        aiohttp finishes a response handed back from a handler only after the handler returns; both
        steps are no-ops on a response already sent. A client gone meanwhile is aiohttp's to handle
        when it finishes the response, as for any other answer.
        """
        with contextlib.suppress(ConnectionError):
            await response.prepare(request)
            await response.write_eof()

    async def _run(self, ctx: RequestContext) -> web.StreamResponse:
        try:
            for stage in self._stages:
                response = await stage(ctx)
                if response is not None:
                    return response
        except SidecarError as error:
            ctx.code = error.code
            if ctx.site is not None and error.status >= 400:
                self._metrics.denials.labels(ctx.site.name, error.code).inc()
            return render_error(ctx, error)
        raise RuntimeError("the pipeline ended without a response")  # the forward stage always answers

    async def _record(self, ctx: RequestContext) -> None:
        for recorder in self._recorders:
            try:
                await recorder(ctx)
            except Exception:  # a recorder failing must not lose the access line
                log.exception("recorder_failed", request_id=ctx.request_id)
        self._account(ctx)

    def _account(self, ctx: RequestContext) -> None:
        """Metrics and the access line."""
        duration = ctx.elapsed
        metrics = self._metrics
        metrics.requests.labels(ctx.route, ctx.status).inc()
        metrics.request_duration.labels(ctx.route).observe(duration)
        principal = ctx.principal
        log.info(
            "request",
            request_id=ctx.request_id,
            site=ctx.site.name if ctx.site else None,
            route=ctx.route,
            method=ctx.request.method,
            path=ctx.request.rel_url.raw_path,  # never the query: it may carry secrets
            status=ctx.status,
            upstream_status=ctx.upstream_status,
            bytes=ctx.bytes_out,
            duration_ms=round(duration * 1000, 3),
            code=ctx.code,
            principal=f"{principal.kind}:{principal.id}" if principal else None,
            wp_user=principal.wp_user if principal else None,
            mcp_method=ctx.mcp_method,
            tool=ctx.tool,
            ability=ctx.ability,
            **ctx.log_fields,
        )
