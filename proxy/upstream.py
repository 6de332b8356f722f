"""Forwarding to WordPress: streamed both ways, hop-by-hop fields stripped, X-Forwarded-* set.

One pooled ClientSession per site keeps connections warm. Large bodies are never buffered here: request
chunks go up as they arrive, response chunks (SSE events included) go down as they arrive. Small bodies
of known length (the usual JSON-RPC exchange) move whole, in one write each way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import hdrs, web
from multidict import CIMultiDict
from yarl import URL

from proxy.context import RequestContext
from proxy.errors import SidecarError
from proxy.headers import REQUEST_ID, strip_hop_by_hop
from proxy.observe import Metrics, get_logger
from proxy.ratelimit.client_ip import peer_is_trusted

__all__ = ["Forwarder", "body_too_large"]

log = get_logger("proxy.upstream")
_CHUNK = 64 * 1024
# Bodies up to this size with a declared length move in one piece (one write, no chunked framing), both
# ways: a small answer goes to the client with its headers in one write. Anything larger, of unknown
# length or event-streamed is relayed chunk by chunk as it arrives.
_SMALL_BODY = 64 * 1024
# Never copied from the client: aiohttp sets them for the upstream request (Host again when preserved).
_NEVER_FORWARDED = (hdrs.HOST, hdrs.CONTENT_LENGTH)
# Answers without a body, whatever their Content-Length says (RFC 9110 sections 6.4.1 and 15.4.5).
_NO_BODY_STATUS = frozenset({204, 304})


def body_too_large(limit: int) -> SidecarError:
    return SidecarError(413, "body_too_large", f"request body exceeds the limit of {limit} bytes")


class _BodyTooLarge(Exception):
    """Raised inside the streamed request body; turned into 413 by the forwarder."""


async def _limited(content: aiohttp.StreamReader, limit: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in content.iter_chunked(_CHUNK):
        seen += len(chunk)
        if seen > limit:
            raise _BodyTooLarge
        yield chunk


def forwarded_headers(request: web.Request, *, trusted_peer: bool = False) -> dict[str, str]:
    """X-Forwarded-For/-Proto/-Host and RFC 7239 Forwarded, appended to what the previous hop sent.

    X-Forwarded-Proto and -Host describe the client's own request: a trusted proxy in front (TLS ended
    by nginx) knows them, so its values are kept; from anyone else they are ours.
    """
    peer = request.remote or "unknown"
    headers = request.headers
    host = headers.get(hdrs.HOST, "")
    proto = request.scheme
    if trusted_peer:
        proto = headers.get(hdrs.X_FORWARDED_PROTO, proto)
        host = headers.get(hdrs.X_FORWARDED_HOST, host)
    prior_xff = headers.get(hdrs.X_FORWARDED_FOR)
    node = f'"[{peer}]"' if ":" in peer else peer
    element = f"for={node};proto={proto}" + (f';host="{host}"' if host else "")
    prior_fwd = headers.get(hdrs.FORWARDED)
    return {
        "X-Forwarded-For": f"{prior_xff}, {peer}" if prior_xff else peer,
        "X-Forwarded-Proto": proto,
        "X-Forwarded-Host": host,
        "Forwarded": f"{prior_fwd}, {element}" if prior_fwd else element,
    }


class Forwarder:
    """Sends one request upstream and streams the answer back to the client."""

    def __init__(self, *, metrics: Metrics, max_body_bytes: int) -> None:
        self._metrics = metrics
        self._max_body = max_body_bytes
        self._sessions: dict[tuple[str, int], aiohttp.ClientSession] = {}
        self._timeouts: dict[tuple[float, float], aiohttp.ClientTimeout] = {}

    def session_for(self, base_url: str, *, connect: float, max_connections: int) -> aiohttp.ClientSession:
        key = (base_url, max_connections)
        session = self._sessions.get(key)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=max_connections,
                limit_per_host=max_connections,
                ttl_dns_cache=300,
                enable_cleanup_closed=True,
            )
            session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,  # bytes pass through as WordPress encoded them
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect),
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            self._sessions[key] = session
        return session

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()

    def _client_timeout(self, *, idle: float, connect: float) -> aiohttp.ClientTimeout:
        """One ClientTimeout per (idle, connect) pair, built once and shared by every request."""
        key = (idle, connect)
        timeout = self._timeouts.get(key)
        if timeout is None:
            timeout = self._timeouts[key] = aiohttp.ClientTimeout(sock_read=idle, sock_connect=connect)
        return timeout

    def _upstream_headers(self, ctx: RequestContext) -> CIMultiDict[str]:
        request = ctx.request
        headers = strip_hop_by_hop(request.headers, drop=(*_NEVER_FORWARDED, *ctx.upstream_drop))
        assert ctx.site is not None
        limits = ctx.site.rate_limits
        trusted = bool(limits.trusted_proxies) and peer_is_trusted(
            request.remote or "", limits.trusted_proxies
        )
        headers.update(forwarded_headers(request, trusted_peer=trusted))
        host = request.headers.get(hdrs.HOST)
        if host is not None and ctx.site.settings.upstream.preserve_host:
            headers["Host"] = host
        headers[REQUEST_ID] = ctx.request_id
        for key, value in ctx.upstream_headers.items():
            headers[key] = value
        return headers

    async def forward(self, ctx: RequestContext) -> web.StreamResponse:
        """Forward and stream back; 502/504 as JSON errors when WordPress cannot be reached in time."""
        assert ctx.site is not None
        request = ctx.request
        upstream = ctx.site.settings.upstream
        timeouts = upstream.timeouts
        session = self.session_for(
            upstream.url, connect=timeouts.connect, max_connections=upstream.max_connections
        )
        # verbatim (encoded=True): yarl must not re-spell the target classify judged (dot segments, escapes)
        url = URL(upstream.url + request.rel_url.raw_path_qs, encoded=True)
        declared = request.content_length
        if declared is not None and declared > self._max_body:
            raise body_too_large(self._max_body)
        data: Any
        if ctx.body is not None:
            data = ctx.body
        elif declared is not None and declared <= _SMALL_BODY:
            data = await request.read() if declared else None
        elif request.body_exists:
            data = _limited(request.content, self._max_body)
        else:
            data = None
        ctx.upstream_started = time.perf_counter()
        try:
            async with asyncio.timeout(timeouts.first_byte):
                upstream_response = await session.request(
                    request.method,
                    url,
                    headers=self._upstream_headers(ctx),
                    data=data,
                    allow_redirects=False,
                    timeout=self._client_timeout(idle=timeouts.idle, connect=timeouts.connect),
                )
        except _BodyTooLarge:
            raise body_too_large(self._max_body) from None
        except TimeoutError:
            self._metrics.upstream_errors.labels("timeout").inc()
            raise SidecarError(504, "upstream_timeout", "WordPress did not answer in time") from None
        except aiohttp.ClientError as exc:
            if isinstance(exc.__cause__, _BodyTooLarge) or isinstance(exc.__context__, _BodyTooLarge):
                raise body_too_large(self._max_body) from None
            self._metrics.upstream_errors.labels("connect").inc()
            log.warning("upstream_unavailable", request_id=ctx.request_id, error=type(exc).__name__)
            raise SidecarError(502, "upstream_unavailable", "WordPress could not be reached") from None
        async with upstream_response:
            self._metrics.upstream_duration.labels(ctx.route).observe(
                time.perf_counter() - ctx.upstream_started
            )
            return await self._relay(ctx, upstream_response)

    async def _relay(
        self, ctx: RequestContext, upstream_response: aiohttp.ClientResponse
    ) -> web.StreamResponse:
        status = upstream_response.status
        ctx.upstream_status = status
        headers = strip_hop_by_hop(upstream_response.headers)
        response_filter = ctx.response_filter
        rewrite = response_filter is not None and response_filter.headers(status, headers)
        if rewrite:
            headers.popall("Content-Length", None)
        for key, value in ctx.response_headers.items():
            headers[key] = value
        headers[REQUEST_ID] = ctx.request_id
        content_type = headers.get(hdrs.CONTENT_TYPE, "")
        event_stream = content_type.startswith("text/event-stream")
        if event_stream:
            headers["Cache-Control"] = "no-cache"
            headers["X-Accel-Buffering"] = "no"  # nginx in front must not buffer the stream either
        elif status not in _NO_BODY_STATUS and ctx.request.method != "HEAD":
            length = upstream_response.content_length
            json_rewrite = rewrite and content_type.startswith("application/json")
            if json_rewrite or (not rewrite and length is not None and length <= _SMALL_BODY):
                return await self._relay_whole(ctx, upstream_response, headers, rewrite=rewrite)
        response = web.StreamResponse(status=status, reason=upstream_response.reason, headers=headers)
        if "Content-Length" in headers:
            response.content_length = int(headers["Content-Length"])
        ctx.status = status
        await response.prepare(ctx.request)
        chunks: AsyncIterator[bytes] = upstream_response.content.iter_any()
        if rewrite:
            assert response_filter is not None
            chunks = response_filter.body(chunks)
        try:
            async for chunk in chunks:
                await response.write(chunk)
                ctx.bytes_out += len(chunk)
        except (TimeoutError, aiohttp.ClientError) as exc:
            # Headers are gone already: the only honest signal left is to cut the connection.
            ctx.code = f"upstream_stream_{self._broken(ctx, exc)}"
            return self._cut(ctx, response)
        except SidecarError as error:
            # The response filter refused the rest (an SSE event over the limit): same cut, its own code.
            self._metrics.upstream_errors.labels("filter").inc()
            log.warning("upstream_stream_refused", request_id=ctx.request_id, code=error.code)
            ctx.code = error.code
            return self._cut(ctx, response)
        await response.write_eof()
        return response

    async def _relay_whole(
        self,
        ctx: RequestContext,
        upstream_response: aiohttp.ClientResponse,
        headers: CIMultiDict[str],
        *,
        rewrite: bool,
    ) -> web.StreamResponse:
        """A small answer of known length, or a JSON answer being rewritten (the filter reads it whole
        anyway): sent with its headers in one write instead of a header write and a body write."""
        try:
            if rewrite:
                assert ctx.response_filter is not None
                body = b"".join(
                    [chunk async for chunk in ctx.response_filter.body(upstream_response.content.iter_any())]
                )
            else:
                body = await upstream_response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            # Nothing has been sent yet: the client can still get a proper error answer.
            if self._broken(ctx, exc) == "timeout":
                raise SidecarError(504, "upstream_timeout", "WordPress stopped answering") from None
            raise SidecarError(502, "upstream_unavailable", "WordPress broke off its answer") from None
        headers.popall("Content-Length", None)  # set from the body actually sent
        ctx.status = upstream_response.status
        ctx.bytes_out = len(body)
        return web.Response(
            status=upstream_response.status, reason=upstream_response.reason, headers=headers, body=body
        )

    @staticmethod
    def _cut(ctx: RequestContext, response: web.StreamResponse) -> web.StreamResponse:
        """Close the client connection: a truncated answer must not look complete."""
        if ctx.request.transport is not None:
            ctx.request.transport.close()
        return response

    def _broken(self, ctx: RequestContext, exc: BaseException) -> str:
        """Count and log an answer WordPress broke off; its kind: timeout or reset."""
        kind = "timeout" if isinstance(exc, TimeoutError) else "reset"
        self._metrics.upstream_errors.labels(kind).inc()
        log.warning("upstream_stream_broken", request_id=ctx.request_id, kind=kind)
        return kind
