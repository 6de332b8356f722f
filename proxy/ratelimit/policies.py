"""Which limits apply to one request, and under which storage keys."""

from __future__ import annotations

from urllib.parse import quote

from proxy.ratelimit.gcra import Limit
from proxy.ratelimit.settings import Rate, RateLimitSettings

__all__ = ["limits_for"]


def _limit(name: str, key: str, rate: Rate) -> Limit:
    return Limit(name=name, key=key, capacity=rate.capacity, interval_us=rate.interval_us, window=rate.window)


def limits_for(
    settings: RateLimitSettings,
    *,
    prefix: str,
    site: str,
    tier: str,
    principal_key: str,
    tool: str | None = None,
    toolset: str | None = None,
    command: str | None = None,
) -> tuple[Limit, ...]:
    """The tier limit of the caller, plus the tool, toolset and command limits the settings name.

    Every key is `<prefix>rl:{<site>/<tier>/<principal>}:<kind>:<name>` with each part percent-encoded
    (no two callers or limits can share a key), and the braces make the keys of one request a Redis
    Cluster hash tag. Policy names: the tier (`anonymous`, `authenticated`), `tool:<name>`,
    `toolset:<name>`, `command:<name>`.
    """
    rate = settings.tier_rate(tier)
    scope = f"{prefix}rl:{{{quote(site, safe='')}/{tier}/{quote(principal_key, safe='')}}}:"
    limits = [_limit(tier, f"{scope}tier", rate)]
    for kind, name, table in (
        ("tool", tool, settings.tools),
        ("toolset", toolset, settings.toolsets),
        ("command", command, settings.commands),
    ):
        if name is not None and (extra := table.get(name)) is not None:
            limits.append(_limit(f"{kind}:{name}", f"{scope}{kind}:{quote(name, safe='')}", extra))
    return tuple(limits)
