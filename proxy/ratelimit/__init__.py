"""Rate limits: GCRA per tier, principal, tool, toolset and command; in memory or shared through Redis.

The pipeline's limit stage wires it: `client_ip` (+ `address_bucket`) names an anonymous caller,
`RateLimiter.check` decides whether a request may spend its `Usage`, `rate_limit_headers` /
`rate_limit_error` answer, `clamp_arguments` caps result sizes once the tool is known.
"""

from proxy.ratelimit.caps import clamp_arguments
from proxy.ratelimit.client_ip import address_bucket, client_ip
from proxy.ratelimit.decision import Decision, Outcome
from proxy.ratelimit.gcra import LimitState
from proxy.ratelimit.limiter import RateLimiter
from proxy.ratelimit.response import (
    BATCH_EXCEEDS_RATE_LIMIT,
    RATE_LIMITED,
    RATE_LIMITER_UNAVAILABLE,
    rate_limit_error,
    rate_limit_headers,
)
from proxy.ratelimit.settings import (
    OnStoreError,
    Rate,
    RateLimitOverrides,
    RateLimitSettings,
    ResultCaps,
    Tier,
    apply_overrides,
)
from proxy.ratelimit.usage import Usage

__all__ = [
    "BATCH_EXCEEDS_RATE_LIMIT",
    "RATE_LIMITED",
    "RATE_LIMITER_UNAVAILABLE",
    "Decision",
    "LimitState",
    "OnStoreError",
    "Outcome",
    "Rate",
    "RateLimitOverrides",
    "RateLimitSettings",
    "RateLimiter",
    "ResultCaps",
    "Tier",
    "Usage",
    "address_bucket",
    "apply_overrides",
    "clamp_arguments",
    "client_ip",
    "rate_limit_error",
    "rate_limit_headers",
]
