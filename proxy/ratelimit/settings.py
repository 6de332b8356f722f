"""Rate-limit settings of one site: typed, validated once, frozen.

Precedence, highest first: the runtime override an admin stores (`RateLimitOverrides`, applied per
request by the limiter), the rules file (`RateLimitSettings` as loaded), the built-in defaults below.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, model_validator

__all__ = [
    "LIMITED_TIERS",
    "REGISTRATION",
    "OnStoreError",
    "Rate",
    "RateLimitOverrides",
    "RateLimitSettings",
    "ResultCaps",
    "Tier",
    "TierCaps",
    "apply_overrides",
]

Tier = Literal["anonymous", "authenticated"]
TIERS: tuple[Tier, ...] = ("anonymous", "authenticated")
# Not a caller's tier but counted like one: client registrations per address (see RateLimitSettings).
REGISTRATION = "registration"
LIMITED_TIERS = (*TIERS, REGISTRATION)

# What to do when the shared store (Redis) cannot be reached:
#   fail_closed: deny with 503 rate_limiter_unavailable. Safe, but a Redis outage takes the MCP surface down.
#   fail_open:   RISK: each replica falls back to its own in-memory limiter, so N replicas together let
#                up to N times the configured rate through until Redis is back.
OnStoreError = Literal["fail_open", "fail_closed"]

_MAX_WINDOW_SECONDS = 366 * 86400  # keeps the microsecond arithmetic exact (far below 2**53)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rate(_Model):
    """`requests` per `per_seconds`, enforced with GCRA (a smooth bucket, no window edges).

    One request is let through every `per_seconds / requests` seconds on average; `burst` (default:
    `requests`) is how many may arrive back to back when the caller has been idle. Example: 60 per 60 s
    with burst 5 allows 5 at once, then one per second.
    """

    requests: Annotated[int, Field(gt=0, le=1_000_000)]
    per_seconds: Annotated[float, Field(gt=0, le=_MAX_WINDOW_SECONDS, allow_inf_nan=False)]
    burst: Annotated[int, Field(gt=0, le=1_000_000)] | None = None

    @model_validator(mode="after")
    def _window_fits(self) -> Rate:
        if self.capacity * self.per_seconds / self.requests > _MAX_WINDOW_SECONDS:
            raise ValueError("burst x (per_seconds / requests) must be at most 366 days")
        return self

    @property
    def capacity(self) -> int:
        """How many requests a rested caller may send at once."""
        return self.burst if self.burst is not None else self.requests

    @property
    def interval_us(self) -> int:
        """GCRA emission interval: microseconds between two requests at the sustained rate."""
        return max(1, round(self.per_seconds * 1_000_000 / self.requests))

    @property
    def window(self) -> int:
        """Whole seconds a full burst takes to refill: the `w` of the RateLimit-Policy header."""
        return max(1, math.ceil(self.capacity * self.interval_us / 1_000_000))


Cap = Annotated[int, Field(ge=1)]


class TierCaps(Protocol):
    """A size cap the rules declare for one argument, per tier (proxy.rules.schema.ResultCap fits)."""

    @property
    def anonymous(self) -> int: ...

    @property
    def authenticated(self) -> int: ...


class ResultCaps(_Model):
    """Site-wide ceilings on result-size arguments (limit, per_page, ...), per tier.

    The rules say which arguments of which tool are size parameters and their cap per tier; these
    ceilings lower every such cap on this site (None: the rules' caps as they are).
    """

    anonymous: Cap | None = None
    authenticated: Cap | None = None

    def caps_for(self, tier: Tier, declared: Mapping[str, TierCaps]) -> dict[str, int]:
        """The caps to pass to `clamp_arguments` for one tool: argument path -> largest value."""
        ceiling = self.anonymous if tier == "anonymous" else self.authenticated
        caps = {}
        for path, cap in declared.items():
            value = cap.anonymous if tier == "anonymous" else cap.authenticated
            caps[path] = value if ceiling is None else min(value, ceiling)
        return caps


class RateLimitSettings(_Model):
    """Rate limits of one site.

    - `enabled`: False turns every limit of the site off (no headers either).
    - `backend`: `memory` counts in this process only (one replica, or tests); `redis` shares the
      counters so N replicas enforce one limit (the limiter then needs a Redis client or URL).
    - `anonymous`: the per-client-address limit for callers without credentials.
    - `authenticated`: the per-principal limit (API key, OAuth client or user).
    - `registration`: the per-client-address limit on `POST /oauth/register`, which anyone may call and
      which writes a client to the store each time (without a limit, a flood fills the store's disk).
    - `tools`, `toolsets`, `commands`: extra per-principal limits for one tool or ability (an ability
      run through mcp-adapter-execute-ability spends from both), the tools whose most specific
      toolset this is (see proxy.pipeline.limit), one command of a command API; checked together
      with the tier limit, all-or-nothing. A JSON-RPC batch spends one per call.
    - `result_caps`: site-wide ceilings on result-size arguments (see ResultCaps).
    - `on_store_error`: what happens when Redis is unreachable; see OnStoreError for the risk of each.
    - `trusted_proxies`: CIDRs of reverse proxies whose X-Forwarded-For is believed (empty: none, the
      socket peer is the client).
    """

    enabled: bool = True
    backend: Literal["memory", "redis"] = "memory"
    anonymous: Rate = Rate(requests=15, per_seconds=60)
    authenticated: Rate = Rate(requests=60, per_seconds=60)
    registration: Rate = Rate(requests=20, per_seconds=3600)
    tools: dict[str, Rate] = {}
    toolsets: dict[str, Rate] = {}
    commands: dict[str, Rate] = {}
    result_caps: ResultCaps = ResultCaps()
    on_store_error: OnStoreError = "fail_closed"
    trusted_proxies: tuple[IPvAnyNetwork, ...] = ()

    def tier_rate(self, tier: str) -> Rate:
        """The limit of a tier; an unknown tier is a programming error, never a silent default."""
        if tier == "anonymous":
            return self.anonymous
        if tier == "authenticated":
            return self.authenticated
        if tier == REGISTRATION:
            return self.registration
        raise ValueError(f"unknown rate-limit tier {tier!r}; expected one of {', '.join(LIMITED_TIERS)}")


class RateLimitOverrides(_Model):
    """What an admin may change at runtime (stored as JSON in the store's settings).

    Present fields replace the rules' value; `tools`, `toolsets` and `commands` are merged name by name
    (an override entry replaces the rules' entry of the same name, the others stay).
    """

    enabled: bool | None = None
    anonymous: Rate | None = None
    authenticated: Rate | None = None
    registration: Rate | None = None
    tools: dict[str, Rate] = {}
    toolsets: dict[str, Rate] = {}
    commands: dict[str, Rate] = {}


def apply_overrides(settings: RateLimitSettings, overrides: RateLimitOverrides) -> RateLimitSettings:
    """The settings with a runtime override laid on top."""
    update: dict[str, object] = {
        name: value
        for name in ("enabled", "anonymous", "authenticated", "registration")
        if (value := getattr(overrides, name)) is not None
    }
    for name in ("tools", "toolsets", "commands"):
        extra: dict[str, Rate] = getattr(overrides, name)
        if extra:
            update[name] = {**getattr(settings, name), **extra}
    return settings.model_copy(update=update) if update else settings
