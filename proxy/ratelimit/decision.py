"""What the limiter answers for one request, and which of its limits speaks for it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from proxy.ratelimit.gcra import LimitState

__all__ = ["Decision", "Outcome", "decide"]

# allowed / limited: the configured store answered. store_error_open: the store failed and this replica's
# in-memory limiter decided instead (`allowed` says what it decided). store_error_closed: the store
# failed and the site fails closed (503 rate_limiter_unavailable). too_large: the request alone costs
# more than a limit's whole burst (a batch of too many calls), so no wait would ever admit it; refused
# without asking the store. The metric label of every check.
Outcome = Literal["allowed", "limited", "too_large", "store_error_open", "store_error_closed"]


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one request.

    `policy`, `limit`, `remaining`, `reset_after` describe the most restrictive limit checked (the one
    the X-RateLimit-* headers report); for `too_large`, the limit the request does not fit in. `policy`
    is None when no limit applies (limits disabled, or the store failed closed). `retry_after` is the
    true wait in whole seconds, rounded up: >= 1 when waiting helps (limited, store_error_closed), else
    0. `states` holds every limit checked, most restrictive first (empty when none was counted).
    """

    outcome: Outcome
    allowed: bool
    policy: str | None = None
    limit: int = 0
    remaining: int = 0
    reset_after: float = 0.0
    retry_after: int = 0
    states: tuple[LimitState, ...] = ()


def _restrictiveness(state: LimitState) -> tuple[bool, int, int, float]:
    # refusing limits first, the longest wait first; then the fewest remaining, the longest reset
    return (state.allowed, -state.retry_after, state.remaining, -state.reset_after)


def decide(states: Iterable[LimitState], *, degraded: bool) -> Decision:
    """Combine the states of the limits checked together (never empty) into one decision."""
    ordered = tuple(sorted(states, key=_restrictiveness))
    first = ordered[0]
    allowed = all(state.allowed for state in ordered)
    outcome: Outcome = "store_error_open" if degraded else "allowed" if allowed else "limited"
    return Decision(
        outcome=outcome,
        allowed=allowed,
        policy=first.name,
        limit=first.limit,
        remaining=first.remaining,
        reset_after=first.reset_after,
        retry_after=first.retry_after,
        states=ordered,
    )
