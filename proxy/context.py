"""The one typed object a request carries through the pipeline; stages read and fill it in."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from aiohttp import web
from multidict import CIMultiDict

from proxy.identity.principal import Principal

if TYPE_CHECKING:
    from proxy.runtime import Runtime, SiteRuntime

__all__ = ["CallNote", "RequestContext", "ResponseFilter", "RouteKind"]

RouteKind = Literal["passthrough", "mcp", "commands", "discovery", "oauth", "blocked", "unknown"]


class ResponseFilter(Protocol):
    """Response-side work on a forwarded answer (tools/list rewriting, session sealing)."""

    def headers(self, status: int, headers: CIMultiDict[str]) -> bool:
        """Adjust response headers in place; return True when the body must go through `body`."""

    def body(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Yield the (possibly rewritten) body chunks, never holding more than one message."""


@dataclass(slots=True)
class CallNote:
    """One tool call (or command) of this request, for the call log: what, and what was decided."""

    method: str
    tool: str | None
    ability: str | None
    allowed: bool
    code: str  # "ok" or the refusal's stable code
    message_id: Any = None


@dataclass(slots=True)
class RequestContext:
    """What the sidecar knows about one request, from arrival to the access log line."""

    request: web.Request
    runtime: Runtime
    request_id: str
    started: float = field(default_factory=time.perf_counter)
    route: RouteKind = "unknown"
    site: SiteRuntime | None = None
    rest_route: str | None = None  # the WordPress REST route the request really reaches, normalised
    principal: Principal | None = None
    body: bytes | None = None  # the request body, read once, for routes the sidecar inspects
    mcp: Any = None  # the parsed JSON-RPC body (proxy.mcp.jsonrpc.ParsedBody)
    mcp_method: str | None = None
    site_toolsets: frozenset[str] = frozenset()  # toolsets enabled on the site right now
    calls: list[CallNote] = field(default_factory=list)
    local_answers: list[dict[str, Any]] = field(default_factory=list)  # sidecar answers merged into a batch
    tool: str | None = None
    ability: str | None = None
    upstream_headers: CIMultiDict[str] = field(default_factory=CIMultiDict)  # added/overridden upstream
    upstream_drop: set[str] = field(default_factory=set)  # lower-case names never sent upstream
    response_headers: CIMultiDict[str] = field(default_factory=CIMultiDict)  # added to any response
    response_filter: ResponseFilter | None = None
    upstream_status: int | None = None
    upstream_started: float | None = None
    status: int = 0
    bytes_out: int = 0
    code: str = "ok"  # stable outcome code: 'ok' or the refusal's code
    jsonrpc_id: Any = None  # id of the single JSON-RPC request, echoed in a refusal
    command_request_id: Any = None  # requestId of a command envelope, echoed in a refusal
    resource_metadata: str | None = None  # RFC 9728 metadata URL for WWW-Authenticate challenges
    log_fields: dict[str, Any] = field(default_factory=dict)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started
