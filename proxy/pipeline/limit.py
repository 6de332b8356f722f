"""Stage `limit`: rate limits by tier, principal (or client address), tool, toolset and command.

Every governed response carries the limit headers; a refused request gets 429 with `Retry-After`
in the route's own dialect and never reaches WordPress (the stage runs before `authorize`, which is
the first to talk to WordPress).

What a request spends (see `usage_of`):
- the tier limit: one request, or one per message of a JSON-RPC batch;
- per tool: each `tools/call` spends from its tool's limit and, through `mcp-adapter-execute-ability`,
  also from the limit of the ability it runs (a limit on `demo/create-post` holds however it is
  reached; looking an ability up with `mcp-adapter-get-ability-info` does not run it);
- per toolset: each call spends from the limit of its *home* toolset, the smallest toolset the
  called tool (or executed ability) belongs to. Toolsets nest (`content` extends `read-only`), so a
  call is in several; charging all of them would make `content: 20/min` throttle every read too.
  The home is what the toolset adds over those it contains, so `admin: 5/min` limits the admin-only
  abilities and nothing else. Membership is the rules' (independent of the caller's profile), so a
  limit means the same for every caller;
- per command: one call of the command of a command envelope (and its home toolset).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from aiohttp import web

from proxy.caching import Memo
from proxy.context import RequestContext
from proxy.identity.principal import Principal
from proxy.mcp.commands import CommandEnvelope
from proxy.mcp.target import EXECUTE_ABILITY_TOOL
from proxy.pipeline.base import Stage
from proxy.pipeline.inspect import Inspected
from proxy.ratelimit import Usage, rate_limit_error, rate_limit_headers
from proxy.ratelimit.usage import ONE_REQUEST
from proxy.rules import Rule, Rules
from proxy.services import Services

__all__ = ["HomeToolsets", "UsageBook", "limit_key", "limits_in_force", "make_limit", "spend", "usage_of"]


def limit_key(principal: Principal) -> str:
    """Whose allowance a request spends.

    OAuth users are keyed by client *and* the WordPress user the token acts for (its subject): every
    person who authorized the same client app gets an allowance of their own. Anonymous callers are
    keyed by their address bucket (the principal id); everyone else by the principal id.
    """
    if principal.kind == "oauth_user":
        return f"oauth_user:{principal.id}/{principal.wp_user}"
    return f"{principal.kind}:{principal.id}"


class HomeToolsets:
    """The most specific toolset of an entry: the one with the fewest listed members (ties by name).

    Sizes are counted once per Rules object (a reload brings new rules, and a fresh count).
    """

    def __init__(self) -> None:
        self._rules: Rules | None = None
        self._sizes: Counter[str] = Counter()

    def _sizes_of(self, rules: Rules) -> Counter[str]:
        if self._rules is not rules:
            self._sizes = Counter(
                toolset
                for entries in rules.entries.values()
                for rule in entries.values()
                for toolset in rule.toolsets
            )
            self._rules = rules
        return self._sizes

    def home(self, rules: Rules, rule: Rule | None) -> str | None:
        if rule is None or not rule.toolsets:
            return None
        sizes = self._sizes_of(rules)
        return min(rule.toolsets, key=lambda toolset: (sizes[toolset], toolset))


def usage_of(ctx: RequestContext, homes: HomeToolsets) -> Usage:
    """What this request spends (see the module doc); one plain request when nothing was inspected."""
    rules = ctx.runtime.rules
    tools: Counter[str] = Counter()
    toolsets: Counter[str] = Counter()
    commands: Counter[str] = Counter()
    requests = 1

    def spend_toolset(rule: Rule | None) -> None:
        home = homes.home(rules, rule)
        if home is not None:
            toolsets[home] += 1

    if isinstance(ctx.mcp, CommandEnvelope):
        commands[ctx.mcp.command] += 1
        spend_toolset(rules.lookup("command", ctx.mcp.command))
    elif isinstance(ctx.mcp, Inspected):
        requests = max(1, len(ctx.mcp.targets))
        for _message, target in ctx.mcp.targets:
            if target.kind != "tool" or target.name is None:
                continue
            tools[target.name] += 1
            if target.name == EXECUTE_ABILITY_TOOL and target.ability is not None:
                tools[target.ability] += 1
                spend_toolset(rules.lookup("ability", target.ability))
            else:
                spend_toolset(rules.lookup("tool", target.name))
    if requests == 1 and not (tools or toolsets or commands):
        return ONE_REQUEST
    return Usage(requests=requests, tools=tools, toolsets=toolsets, commands=commands)


class UsageBook:
    """`usage_of`, remembered for requests of one message or one command: what such a request spends
    depends only on the rules and its target, and the same few targets come back all day."""

    def __init__(self, homes: HomeToolsets, *, size: int = 4096) -> None:
        self._homes = homes
        self._known: Memo[Hashable, tuple[Rules, Usage]] = Memo(maxsize=size)

    def usage(self, ctx: RequestContext) -> Usage:
        key = _single_target(ctx)
        if key is None:
            return usage_of(ctx, self._homes)
        rules = ctx.runtime.rules
        known = self._known.get(key)
        if known is not None and known[0] is rules:  # a reload brings new rules: worked out again
            return known[1]
        return self._known.remember(key, (rules, usage_of(ctx, self._homes)))[1]


def _single_target(ctx: RequestContext) -> Hashable | None:
    """What `usage_of` reads of a request of one target (None: a batch, or nothing inspected)."""
    if isinstance(ctx.mcp, CommandEnvelope):
        return ("command", ctx.mcp.command)
    if isinstance(ctx.mcp, Inspected) and len(ctx.mcp.targets) == 1:
        target = ctx.mcp.targets[0][1]
        return (target.kind, target.name, target.ability)
    return None


def limits_in_force(services: Services, ctx: RequestContext) -> tuple[Mapping[str, Any] | None] | None:
    """`(runtime overrides,)` when the site's rate limits are on; None when they are off for it (no
    headers, no work: asked before anything else is worked out)."""
    site = ctx.site
    assert site is not None
    overrides = services.switches.rate_overrides(site.name)
    return (overrides,) if site.rate_limits.enabled or overrides is not None else None


async def spend(
    services: Services,
    ctx: RequestContext,
    overrides: Mapping[str, Any] | None,
    *,
    tier: str,
    key: str,
    usage: Callable[[], Usage],
) -> None:
    """Count this request against the site's limits of `tier` for `key` (limits in force, with these
    runtime `overrides`); raise the refusal (429, ...) when they do not admit it. The headers of the
    decision go on whatever answer follows."""
    site = ctx.site
    assert site is not None
    decision = await services.limiter.check(
        site=site.name, tier=tier, principal_key=key, usage=usage(), overrides=overrides
    )
    services.metrics.ratelimit.labels(site.name, tier, decision.outcome).inc()
    if not decision.allowed:
        ctx.log_fields["rate_limit_policy"] = decision.policy
        raise rate_limit_error(decision)  # with the decision's headers
    ctx.response_headers.update(rate_limit_headers(decision))


def make_limit(services: Services) -> Stage:
    book = UsageBook(HomeToolsets())

    async def limit(ctx: RequestContext) -> web.StreamResponse | None:
        principal = ctx.principal
        if principal is None or ctx.site is None:
            return None  # only agent routes (mcp, commands) have a principal, and only they are limited
        in_force = limits_in_force(services, ctx)
        if in_force is not None:
            await spend(
                services,
                ctx,
                in_force[0],
                tier=principal.tier,
                key=limit_key(principal),
                usage=lambda: book.usage(ctx),
            )
        return None

    return limit
