"""Stage `authorize`: may this principal make this call? Then prepare the upstream request.

The tool (and, through the meta-tools, the ability) must be in the principal's toolsets, its scope
granted, and the mapped WordPress user must hold its capability, which WordPress itself tells us
(`users/me?context=edit`, cached briefly). Refused calls never reach WordPress. Allowed requests go
upstream with the mapped user's application password, never with the client's credential, and with
the WordPress session id unsealed from the sidecar's session id.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from proxy.authz.decision import AccessView, Denial
from proxy.context import CallNote, RequestContext
from proxy.errors import SidecarError
from proxy.headers import AUTHORIZATION, MCP_SESSION_ID
from proxy.identity.principal import Principal
from proxy.mcp.commands import CommandEnvelope
from proxy.mcp.jsonrpc import Message
from proxy.mcp.rewrite import ResponseRewriter
from proxy.mcp.strict_json import dump_json
from proxy.mcp.target import Target
from proxy.pipeline.base import Stage
from proxy.pipeline.inspect import Inspected
from proxy.pipeline.mcp_response import McpResponseFilter
from proxy.ratelimit import clamp_arguments
from proxy.render import jsonrpc_error
from proxy.rules import Rules
from proxy.runtime import SiteRuntime
from proxy.services import Services

__all__ = ["make_authorize", "session_owner"]

# The client's own credentials and cookies never reach WordPress: it acts as the mapped user only.
CLIENT_CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "cookie", "proxy-authorization"})


def session_owner(principal: Principal) -> str:
    return f"{principal.kind}:{principal.id}"


def _basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode("ascii")


def _denial_error(denial: Denial) -> SidecarError:
    # A missing scope can be fixed by the client (step-up); say so in the challenge.
    return denial.to_error(challenge=denial.code == "insufficient_scope")


def _check(view: AccessView, rules: Rules, target: Target) -> Denial | None:
    if target.kind == "tool" and target.name is not None:
        return view.check_tool(target.name, target.ability)
    if (
        target.kind in ("resource", "prompt")
        and target.name is not None
        and target.name in rules.entries["ability"]
    ):
        # Resources and prompts backed by a listed ability follow that ability's rules; others are
        # WordPress's own to judge (the plugin checks them as the mapped user).
        return view.check_ability(target.name)
    return None


def _clamped(ctx: RequestContext, message: Message, target: Target) -> dict[str, Any] | None:
    """The message with result-size arguments capped for the caller's tier, or None if unchanged."""
    rules = ctx.runtime.rules
    rule = rules.lookup("ability", target.ability) if target.ability else None
    rule = rule or (rules.lookup("tool", target.name) if target.name else None)
    if rule is None or not rule.result_caps or ctx.principal is None or ctx.site is None:
        return None
    settings = ctx.site.settings.rate_limits or ctx.runtime.config.rate_limits
    caps = settings.result_caps.caps_for(ctx.principal.tier, rule.result_caps)  # type: ignore[arg-type]
    arguments = message.params.get("arguments")
    if not isinstance(arguments, dict):
        return None
    if target.ability is not None:
        caps = {
            f"parameters.{name}" if not name.startswith("parameters.") else name: cap
            for name, cap in caps.items()
        }
    clamped = clamp_arguments(arguments, caps)
    if clamped == arguments:
        return None
    return {**message.raw, "params": {**message.params, "arguments": clamped}}


class _Authorizer:
    def __init__(self, services: Services) -> None:
        self._services = services

    async def __call__(self, ctx: RequestContext) -> web.StreamResponse | None:
        principal = ctx.principal
        if principal is None or ctx.route not in ("mcp", "commands"):
            return None
        site = ctx.site
        assert site is not None
        login, password = self._credential(site, principal)
        view = await self._view(ctx, site, principal, login, password)
        if isinstance(ctx.mcp, CommandEnvelope):
            self._authorize_command(ctx, view, ctx.mcp)
        elif isinstance(ctx.mcp, Inspected):
            answered = self._authorize_messages(ctx, view, ctx.mcp)
            if answered is not None:
                return answered
        self._prepare_upstream(ctx, site, principal, login, password, view)
        return None

    @staticmethod
    def _credential(site: SiteRuntime, principal: Principal) -> tuple[str, str]:
        login = principal.wp_user
        user = site.settings.users.get(login) if login else None
        if login is None or user is None:
            raise SidecarError(
                403,
                "unknown_wp_user",
                "the WordPress user this credential acts as is not configured for this site",
            )
        return login, user.app_password

    async def _view(
        self, ctx: RequestContext, site: SiteRuntime, principal: Principal, login: str, password: str
    ) -> AccessView:
        resolver = self._services.capabilities
        assert resolver is not None
        capabilities = await resolver.resolve(site.name, site.upstream_url, login, password)
        narrow = ctx.request.query.getall("toolset", [])
        return ctx.runtime.authorizer.view(
            principal, capabilities, narrow=narrow, site_toolsets=ctx.site_toolsets
        )

    def _authorize_command(self, ctx: RequestContext, view: AccessView, envelope: CommandEnvelope) -> None:
        denial = view.check_command(envelope.command)
        ctx.calls.append(
            CallNote(
                "command",
                envelope.command,
                None,
                denial is None,
                "ok" if denial is None else denial.code,
                envelope.request_id,
            )
        )
        if denial is not None:
            error = _denial_error(denial)
            if denial.code == "unknown_command":
                error.status = 400  # the command APIs' own semantics: an unknown command is a bad request
            raise error

    def _authorize_messages(
        self, ctx: RequestContext, view: AccessView, inspected: Inspected
    ) -> web.StreamResponse | None:
        refused: list[tuple[Message, SidecarError]] = []
        forward: list[Mapping[str, Any]] = []
        changed = False
        for message, target in inspected.targets:
            denial = _check(view, ctx.runtime.rules, target)
            if message.method == "tools/call":
                ctx.calls.append(
                    CallNote(
                        message.method,
                        target.name,
                        target.ability,
                        denial is None,
                        "ok" if denial is None else denial.code,
                        message.id,
                    )
                )
            if denial is not None:
                refused.append((message, _denial_error(denial)))
                changed = True
                continue
            clamped = _clamped(ctx, message, target)
            changed = changed or clamped is not None
            forward.append(clamped if clamped is not None else message.raw)
        forward.extend(m.raw for m in inspected.body.messages if not m.method)  # responses to the server
        if not refused:
            if changed:
                ctx.body = dump_json(forward if inspected.body.batch else forward[0]).encode()
            return None
        if not inspected.body.batch:
            raise refused[0][1]
        local = [
            jsonrpc_error(ctx, error, message.id) for message, error in refused if message.kind == "request"
        ]
        if not any("method" in raw and "id" in raw for raw in forward):
            # Nothing left that WordPress would answer: the sidecar answers the whole batch itself.
            return web.Response(
                status=200,
                content_type="application/json",
                text=json.dumps(local),
                headers={"X-Request-Id": ctx.request_id, **ctx.response_headers},
            )
        ctx.body = dump_json(forward).encode()
        ctx.log_fields["refused_in_batch"] = len(refused)
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
    ) -> None:
        services = self._services
        ctx.upstream_drop |= CLIENT_CREDENTIAL_HEADERS
        ctx.upstream_headers[AUTHORIZATION] = _basic(login, password)
        owner = session_owner(principal)
        sealed = ctx.request.headers.get(MCP_SESSION_ID)
        if sealed is not None:
            ctx.upstream_drop.add(MCP_SESSION_ID.lower())
            ctx.upstream_headers[MCP_SESSION_ID] = services.sealer.open(
                sealed, principal_id=owner, site=site.name
            )
        if ctx.route != "mcp":
            return
        rewriter = None
        if isinstance(ctx.mcp, Inspected):
            rewriter = ResponseRewriter(
                ctx.mcp.body, visible_tool=view.tool_visible, visible_ability=view.ability_visible
            )
        resolver = services.capabilities
        assert resolver is not None
        ctx.response_filter = McpResponseFilter(
            rewriter=rewriter,
            seal=lambda upstream_id: services.sealer.seal(upstream_id, owner, site.name),
            local_answers=ctx.local_answers,
            on_unauthorized=lambda: resolver.invalidate(site.name, login),
        )


def make_authorize(services: Services) -> Stage:
    return _Authorizer(services)
