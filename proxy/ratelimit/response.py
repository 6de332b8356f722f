"""How a decision shows in the response: rate-limit headers, and the refusal when it is a refusal.

Two header families, both from the most restrictive limit first:
- `X-RateLimit-Limit` / `-Remaining` / `-Reset`: the de-facto trio. Reset is DELTA seconds (an integer,
  rounded up) until the full allowance is back, never an epoch: it needs no clock agreement.
- `RateLimit-Policy` / `RateLimit` of draft-ietf-httpapi-ratelimit-headers-11 (structured-field lists,
  one item per limit checked): `"authenticated";q=60;w=60` and `"authenticated";r=59;t=1`. `q` is the
  burst capacity and `w` the whole seconds it takes to refill, so the pair states the sustained rate
  too. `t` is the seconds until the full allowance is back, except for a limit that refuses the
  request: there it is the wait until the next request fits, equal to Retry-After (the draft asks
  that Retry-After never point before the end of the effective window).
`Retry-After` (delta seconds, >= 1) is added whenever waiting would get the request admitted; a request
bigger than a limit's whole burst (`too_large`) gets 400 `batch_exceeds_rate_limit` instead, without it.
"""

from __future__ import annotations

import math
from functools import lru_cache

from proxy.errors import SidecarError
from proxy.ratelimit.decision import Decision
from proxy.ratelimit.gcra import LimitState

__all__ = [
    "BATCH_EXCEEDS_RATE_LIMIT",
    "RATE_LIMITED",
    "RATE_LIMITER_UNAVAILABLE",
    "rate_limit_error",
    "rate_limit_headers",
]

RATE_LIMITED = "rate_limited"
RATE_LIMITER_UNAVAILABLE = "rate_limiter_unavailable"
BATCH_EXCEEDS_RATE_LIMIT = "batch_exceeds_rate_limit"

X_RATELIMIT_LIMIT = "X-RateLimit-Limit"
X_RATELIMIT_REMAINING = "X-RateLimit-Remaining"
X_RATELIMIT_RESET = "X-RateLimit-Reset"
RATELIMIT_POLICY = "RateLimit-Policy"
RATELIMIT = "RateLimit"
RETRY_AFTER = "Retry-After"


@lru_cache(maxsize=1024)  # policy names: a handful per site, on every limited response
def _sf_string(value: str) -> str:
    """An RFC 8941 String: printable ASCII only (anything else becomes '?'), quote and backslash escaped."""
    printable = "".join(char if " " <= char <= "~" else "?" for char in value)
    return '"' + printable.replace("\\", "\\\\").replace('"', '\\"') + '"'


@lru_cache(maxsize=1024)  # the same few limits on every response they govern
def _policy_header(limits: tuple[tuple[str, int, int], ...]) -> str:
    return ", ".join(f"{_sf_string(name)};q={limit};w={window}" for name, limit, window in limits)


def _effective_window(state: LimitState) -> int:
    return state.retry_after if not state.allowed else math.ceil(state.reset_after)


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    """Headers for any response the decision governs (allowed or refused); empty when no limit counted."""
    headers: dict[str, str] = {}
    if decision.states:
        headers[X_RATELIMIT_LIMIT] = str(decision.limit)
        headers[X_RATELIMIT_REMAINING] = str(decision.remaining)
        headers[X_RATELIMIT_RESET] = str(math.ceil(decision.reset_after))
        headers[RATELIMIT_POLICY] = _policy_header(
            tuple((state.name, state.limit, state.window) for state in decision.states)
        )
        headers[RATELIMIT] = ", ".join(
            f"{_sf_string(state.name)};r={state.remaining};t={_effective_window(state)}"
            for state in decision.states
        )
    if not decision.allowed and decision.outcome != "too_large":
        headers[RETRY_AFTER] = str(max(decision.retry_after, 1))
    return headers


def rate_limit_error(decision: Decision) -> SidecarError:
    """The refusal for a decision that is not allowed: 429 rate_limited, 400 batch_exceeds_rate_limit,
    or 503 rate_limiter_unavailable."""
    if decision.allowed:
        raise ValueError("rate_limit_error needs a refused decision")
    headers = rate_limit_headers(decision)
    if decision.outcome == "too_large":
        return SidecarError(
            400,
            BATCH_EXCEEDS_RATE_LIMIT,
            f"this request makes more calls than rate limit {decision.policy!r} allows at once "
            f"({decision.limit}); send fewer calls per batch",
            headers=headers,
            data={"policy": decision.policy, "limit": decision.limit},
        )
    if decision.outcome == "store_error_closed":
        return SidecarError(
            503,
            RATE_LIMITER_UNAVAILABLE,
            "the rate limiter cannot reach its store; try again shortly",
            headers=headers,
            data={"retry_after": decision.retry_after},
        )
    return SidecarError(
        429,
        RATE_LIMITED,
        f"rate limit {decision.policy!r} exceeded; retry in {decision.retry_after} s",
        headers=headers,
        data={"policy": decision.policy, "retry_after": decision.retry_after},
    )
