"""Runs the stages for every request, renders refusals, and writes the access log and metrics."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Sequence

from aiohttp import web

from proxy.context import CONTEXT_KEY, RequestContext
from proxy.errors import SidecarError
from proxy.headers import REQUEST_ID
from proxy.observe import Metrics, get_logger
from proxy.pipeline.base import Stage
from proxy.render import render_error
from proxy.runtime import RuntimeHolder

__all__ = ["Pipeline"]

log = get_logger("proxy.access")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_id_for(request: web.Request) -> str:
    """The client's X-Request-Id when it is well-formed (so traces join up), else a new one."""
    given = request.headers.get(REQUEST_ID, "")
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


class Pipeline:
    """The ordered stages; the last one (forward) always answers."""

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

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ctx = RequestContext(
            request=request, runtime=self._holder.current, request_id=request_id_for(request)
        )
        request[CONTEXT_KEY] = ctx
        self._metrics.in_flight.inc()
        try:
            response = await self._run(ctx)
            ctx.status = response.status
            return response
        except asyncio.CancelledError:
            ctx.status, ctx.code = 499, "client_closed_request"
            raise
        finally:
            self._metrics.in_flight.dec()
            await asyncio.shield(self._record(ctx))

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
        duration = ctx.elapsed
        self._metrics.requests.labels(ctx.route, str(ctx.status)).inc()
        self._metrics.request_duration.labels(ctx.route).observe(duration)
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
