"""Stage `authorize`: may this principal make this call? Then prepare the upstream request.

The tool (and, through the meta-tools, the ability) must be in the principal's toolsets, its scope
granted, and the mapped WordPress user must hold its capability, which WordPress itself tells us
(`users/me?context=edit`, cached briefly). Refused calls never reach WordPress. Allowed requests go
upstream with the mapped user's application password, never with the client's credential, and with
the WordPress session id unsealed from the sidecar's session id.

Sessions: WordPress keeps MCP sessions per WordPress user, but several principals may act as one
user, so the client never sees WordPress's id. It gets that id sealed (AES-GCM, proxy.mcp.session)
with the principal and the site as associated data: any replica opens it without shared state, and
an id presented by another principal fails to open and is answered 404 "session not found" before
anything else is looked at.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import aiohttp
from aiohttp import web
from mcp_types.jsonrpc import INVALID_PARAMS
from multidict import istr

from proxy.authz.decision import AccessView, Denial
from proxy.context import CallNote, RequestContext
from proxy.errors import SidecarError
from proxy.headers import AUTHORIZATION, MCP_SESSION_ID, REQUEST_ID
from proxy.identity.principal import Principal
from proxy.mcp.commands import CommandEnvelope
from proxy.mcp.jsonrpc import JsonRpcError, Message
from proxy.mcp.rewrite import ResponseRewriter
from proxy.mcp.strict_json import dump_json
from proxy.mcp.target import Target
from proxy.pipeline.base import Stage
from proxy.pipeline.inspect import Inspected
from proxy.pipeline.mcp_response import McpResponseFilter
from proxy.ratelimit import ResultCaps, Tier, clamp_arguments
from proxy.render import jsonrpc_error
from proxy.rules import Rules
from proxy.runtime import SiteRuntime
from proxy.services import Services
from proxy.stores.base import StoreUnavailable

__all__ = ["CLIENT_CREDENTIAL_HEADERS", "make_authorize", "session_owner"]

# The client's own credentials and cookies never reach WordPress: it acts as the mapped user only.
CLIENT_CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "cookie", "proxy-authorization"})
# istr: popped from every forwarded request's headers (see proxy.headers)
_CLIENT_CREDENTIALS_NOT_REPLACED = frozenset(
    istr(name) for name in CLIENT_CREDENTIAL_HEADERS - {AUTHORIZATION.lower()}
)

TOOL_NOT_FOUND = -32003  # what mcp-adapter answers for an unknown tool (HTTP 404)
# JSON-RPC codes of refusals whose HTTP status alone would pick a misleading one (404 is the
# transport's "session not found", on which clients re-initialize).
_RPC_CODES = {
    "unknown_tool": TOOL_NOT_FOUND,
    "unknown_ability": TOOL_NOT_FOUND,
    "ability_required": INVALID_PARAMS,
}
ABILITY_INPUT = "parameters"  # the argument of mcp-adapter-execute-ability that carries the ability's input


def session_owner(principal: Principal) -> str:
    """Whom a session is bound to. The WordPress user is part of it: OAuth principals are named by
    their client, and one public client may act for several WordPress users."""
    return f"{principal.kind}:{principal.id}:{principal.wp_user}"


def _denial_error(denial: Denial, principal: Principal) -> SidecarError:
    """The refusal to answer. A missing scope gets a step-up challenge whose scope lists every scope the
    call needs, the credential's own included, so re-authorizing for it loses nothing (RFC 6750 3.1)."""
    rpc_code = _RPC_CODES.get(denial.code)
    if rpc_code is not None:
        return JsonRpcError(
            rpc_code,
            denial.message,
            reason=denial.code,
            status=denial.http_status,
            data={"target": denial.target},
        )
    error = denial.to_error(challenge=denial.missing_scope is not None)
    if denial.missing_scope is not None:
        error.scope = " ".join(sorted(principal.scopes | {denial.missing_scope}))
    return error


def _check(view: AccessView, target: Target) -> Denial | None:
    if target.kind == "tool" and target.name is not None:
        return view.check_tool(target.name, target.ability)
    if target.kind in ("resource", "prompt") and target.name is not None:
        return view.check_backed(target.name)
    return None


def _clamped(
    message: Message, target: Target, *, rules: Rules, ceilings: ResultCaps, tier: Tier
) -> Mapping[str, Any]:
    """The tools/call `message` to forward, its result-size arguments capped for the caller's tier (the
    tool's caps on its arguments, the ability's on the ability's input). Unchanged: `message.raw`."""
    arguments = message.params.get("arguments")
    if target.name is None or not isinstance(arguments, dict):
        return message.raw
    caps: dict[str, int] = {}
    tool = rules.lookup("tool", target.name)
    if tool is not None:
        caps.update(ceilings.caps_for(tier, tool.result_caps))
    ability = rules.lookup("ability", target.ability) if target.ability is not None else None
    if ability is not None:
        own = ceilings.caps_for(tier, ability.result_caps)
        caps.update({f"{ABILITY_INPUT}.{name}": cap for name, cap in own.items()})
    clamped = clamp_arguments(arguments, caps) if caps else arguments
    if clamped == arguments:
        return message.raw
    return {**message.raw, "params": {**message.params, "arguments": clamped}}


def _capped(
    ctx: RequestContext, site: SiteRuntime, principal: Principal, message: Message, target: Target
) -> Mapping[str, Any]:
    """`_clamped` with the caps of the site (or the config's) for the principal's tier."""
    ceilings = site.rate_limits.result_caps
    tier: Tier = "anonymous" if principal.anonymous else "authenticated"
    return _clamped(message, target, rules=ctx.runtime.rules, ceilings=ceilings, tier=tier)


@lru_cache(maxsize=1024)
def _basic_auth(login: str, password: str) -> str:
    """The upstream Authorization value of a WordPress user: the same few users call all day."""
    return aiohttp.encode_basic_auth(login, password)


def _is_request(raw: Mapping[str, Any]) -> bool:
    return "method" in raw and "id" in raw


def _answer_batch(ctx: RequestContext, local: list[dict[str, Any]]) -> web.Response:
    """The sidecar's own answer to a batch: its refusals, or 202 when only notifications were refused."""
    headers = {REQUEST_ID: ctx.request_id, **ctx.response_headers}
    if not local:
        return web.Response(status=202, headers=headers)
    return web.Response(status=200, headers=headers, content_type="application/json", text=dump_json(local))


class _Authorizer:
    def __init__(self, services: Services) -> None:
        self._services = services

    async def stage(self, ctx: RequestContext) -> web.StreamResponse | None:
        principal = ctx.principal
        if principal is None or ctx.route not in ("mcp", "commands"):
            return None
        site = ctx.site
        assert site is not None
        login, password = await self._credential(site, principal)
        upstream_session = self._open_session(ctx, site, principal)
        view = await self._view(ctx, site, principal, login, password)
        if isinstance(ctx.mcp, CommandEnvelope):
            self._authorize_command(ctx, view, ctx.mcp)
        elif isinstance(ctx.mcp, Inspected):
            answered = self._authorize_messages(ctx, view, ctx.mcp)
            if answered is not None:
                return answered
        self._prepare_upstream(ctx, site, principal, login, password, view, upstream_session)
        return None

    async def _credential(self, site: SiteRuntime, principal: Principal) -> tuple[str, str]:
        """The WordPress login and application password to act with (proxy.identity.upstream_credentials)."""
        try:
            password = await self._services.credentials.get(site, principal)
        except StoreUnavailable:
            raise SidecarError(
                503, "store_unavailable", "credentials cannot be read right now", headers={"Retry-After": "5"}
            ) from None
        if principal.wp_user is None or password is None:
            raise SidecarError(
                403,
                "unknown_wp_user",
                "the WordPress user this credential acts as has no application password for this site",
            )
        return principal.wp_user, password

    def _open_session(self, ctx: RequestContext, site: SiteRuntime, principal: Principal) -> str | None:
        """WordPress's session id inside the client's sealed one; 404 if it is not this principal's."""
        sealed = ctx.request.headers.get(MCP_SESSION_ID)
        if sealed is None:
            return None
        return self._services.sealer.open(sealed, principal_id=session_owner(principal), site=site.name)

    async def _view(
        self, ctx: RequestContext, site: SiteRuntime, principal: Principal, login: str, password: str
    ) -> AccessView:
        resolver = self._services.capabilities
        assert resolver is not None
        capabilities = await resolver.resolve(
            site.name, site.rest_index_url, login, password, host=site.upstream_host
        )
        request = ctx.request
        narrow = request.query.getall("toolset", []) if request.query_string else ()
        return ctx.runtime.authorizer.view(
            principal, capabilities, narrow=narrow, site_toolsets=ctx.site_toolsets
        )

    @staticmethod
    def _authorize_command(ctx: RequestContext, view: AccessView, envelope: CommandEnvelope) -> None:
        denial = view.check_command(envelope.command)
        code = "ok" if denial is None else denial.code
        ctx.calls.append(
            CallNote("command", envelope.command, None, denial is None, code, envelope.request_id)
        )
        if denial is not None:
            assert ctx.principal is not None
            error = _denial_error(denial, ctx.principal)
            if denial.code == "unknown_command":
                error.status = 400  # the command APIs' own semantics: an unknown command is a bad request
            raise error

    @staticmethod
    def _authorize_messages(
        ctx: RequestContext, view: AccessView, inspected: Inspected
    ) -> web.StreamResponse | None:
        """Judge each message; forward the allowed ones, answer the refused ones here.

        A refused single message is raised. In a batch, refused requests are answered by the sidecar
        (merged into WordPress's answer by the response filter). When refusals leave WordPress nothing to
        answer, the sidecar answers the batch alone and forwards nothing: notifications riding along with
        only refused requests are dropped with them, as there is no answer to merge ours into.
        """
        principal, site = ctx.principal, ctx.site
        assert principal is not None
        assert site is not None
        forward: list[Mapping[str, Any]] = []
        local: list[dict[str, Any]] = []
        refusal: SidecarError | None = None
        changed = False
        for message, target in inspected.targets:
            denial = _check(view, target)
            call = message.method == "tools/call"
            if call:
                code = "ok" if denial is None else denial.code
                ctx.calls.append(
                    CallNote("tools/call", target.name, target.ability, denial is None, code, message.id)
                )
            if denial is None:
                raw = _capped(ctx, site, principal, message, target) if call else message.raw
                changed = changed or raw is not message.raw
                forward.append(raw)
                continue
            changed = True
            refusal = _denial_error(denial, principal)
            if message.kind == "request":
                local.append(jsonrpc_error(ctx, refusal, message.id))
        if not inspected.body.batch and refusal is not None:
            raise refusal
        if (local or not forward) and not any(_is_request(raw) for raw in forward):
            return _answer_batch(ctx, local)
        if changed:
            ctx.body = dump_json(forward if inspected.body.batch else forward[0]).encode()
        if local:
            ctx.log_fields["refused_in_batch"] = len(local)
            ctx.local_answers = local
        return None

    def _prepare_upstream(
        self,
        ctx: RequestContext,
        site: SiteRuntime,
        principal: Principal,
        login: str,
        password: str,
        view: AccessView,
        upstream_session: str | None,
    ) -> None:
        services = self._services
        # Authorization and a sealed Mcp-Session-Id are replaced (a set header replaces every copy)
        ctx.upstream_drop |= _CLIENT_CREDENTIALS_NOT_REPLACED
        ctx.upstream_headers[AUTHORIZATION] = _basic_auth(login, password)
        if upstream_session is not None:
            ctx.upstream_headers[MCP_SESSION_ID] = upstream_session
        if ctx.route != "mcp":
            return
        rewriter = None
        if isinstance(ctx.mcp, Inspected):
            rewriter = ResponseRewriter.for_body(ctx.mcp.body, view)
        response_filter = McpResponseFilter(
            rewriter,
            lambda upstream_id: services.sealer.seal(upstream_id, session_owner(principal), site.name),
            ctx.local_answers,
            lambda: self._forget_user(site, login),
        )
        if response_filter.reads_body:
            # The body is read to filter it: an encoding it could not read would slip through unfiltered.
            ctx.upstream_headers["Accept-Encoding"] = "identity"
        ctx.response_filter = response_filter

    def _forget_user(self, site: SiteRuntime, login: str) -> None:
        resolver = self._services.capabilities
        assert resolver is not None
        resolver.invalidate(site.name, login)


def make_authorize(services: Services) -> Stage:
    # the bound method: CPython reaches an instance's __call__ through a slower, generic path
    return _Authorizer(services).stage
