"""Which limits apply to one request, under which storage keys, and at what cost."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import quote

from proxy.ratelimit.gcra import Limit
from proxy.ratelimit.settings import Rate, RateLimitSettings
from proxy.ratelimit.usage import Usage

__all__ = ["limits_for"]


@lru_cache(maxsize=4096)
def _part(text: str) -> str:
    """One key part, percent-encoded; remembered, as the same sites, callers and tools come back."""
    return quote(text, safe="")


def _limit(name: str, key: str, rate: Rate, cost: int) -> Limit:
    return Limit(
        name=name,
        key=key,
        capacity=rate.capacity,
        interval_us=rate.interval_us,
        window=rate.window,
        cost=cost,
    )


def limits_for(
    settings: RateLimitSettings,
    *,
    prefix: str,
    site: str,
    tier: str,
    principal_key: str,
    usage: Usage,
) -> tuple[Limit, ...]:
    """The tier limit of the caller, plus the tool, toolset and command limits the settings name.

    Every key is `<prefix>{<site>/<tier>/<principal>}:<kind>:<name>` with each part percent-encoded
    (no two callers or limits can share a key), and the braces make the keys of one request a Redis
    Cluster hash tag. Policy names: the tier (`anonymous`, `authenticated`), `tool:<name>`,
    `toolset:<name>`, `command:<name>`.
    """
    scope = f"{prefix}{{{_part(site)}/{tier}/{_part(principal_key)}}}:"
    limits = [_limit(tier, f"{scope}tier", settings.tier_rate(tier), usage.requests)]
    tables: tuple[tuple[str, Mapping[str, int], Mapping[str, Rate]], ...] = (
        ("tool", usage.tools, settings.tools),
        ("toolset", usage.toolsets, settings.toolsets),
        ("command", usage.commands, settings.commands),
    )
    for kind, spent, rates in tables:
        for name, cost in sorted(spent.items()):
            if (rate := rates.get(name)) is not None:
                key = f"{scope}{kind}:{_part(name)}"
                limits.append(_limit(f"{kind}:{name}", key, rate, cost))
    return tuple(limits)
